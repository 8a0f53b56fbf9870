import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareFilters, layerFilters, type PlacedFilter } from './layering.js';
import type { Leaf } from './merge-rules.js';

const ROUTE = ['spec', 'http', 0];
const place = (...p: (string | number)[]) => [p];

function filter(
  key: string,
  priority: number,
  leaves: [string[], unknown][],
  places = [ROUTE],
): PlacedFilter {
  return {
    key,
    owner: key.split('/')[1] ?? key,
    priority,
    places,
    leaves: leaves.map(([path, value]) => ({ path, value })),
    specPath: (leaf: Leaf) => `spec.${leaf.path.join('.')}`,
  };
}

const frame = () => ({ spec: { http: [{ route: [] as unknown[] }] } });
const none = () => [] as string[];

test('order: priority, then namespace/name', () => {
  const refs = [
    { key: 'b/x', owner: '', priority: 1 },
    { key: 'a/y', owner: '', priority: 1 },
    { key: 'z/z', owner: '', priority: -2 },
    { key: 'a/x', owner: '', priority: 1 },
  ];
  assert.deepEqual(
    [...refs].sort(compareFilters).map((r) => r.key),
    ['z/z', 'a/x', 'a/y', 'b/x'],
  );
  assert.equal(compareFilters(refs[0]!, refs[0]!), 0);
});

test('a field set inside a value another filter of the same priority sets whole is a conflict', () => {
  const out = layerFilters(
    frame(),
    [
      filter('s/whole', 0, [[['headers', 'request', 'set'], {}]]),
      filter('s/inner', 0, [
        [['headers', 'request', 'set', 'x-a'], '1'],
        [['timeout'], '1s'],
      ]),
    ],
    none,
  );
  assert.deepEqual(out.conflicts, [
    {
      at: 'spec.http[0].headers.request.set',
      priority: 0,
      parties: [
        {
          filter: { key: 's/inner', owner: 'inner', priority: 0 },
          field: 'spec.headers.request.set.x-a',
          value: '1',
        },
        {
          filter: { key: 's/whole', owner: 'whole', priority: 0 },
          field: 'spec.headers.request.set',
          value: {},
        },
      ],
    },
  ]);
  assert.deepEqual(
    out.root.spec,
    { http: [{ route: [], timeout: '1s' }] },
    'the rest of the inner filter applies',
  );
  // One filter setting both is no conflict.
  const alone = layerFilters(
    frame(),
    [
      filter('s/one', 0, [
        [['a'], {}],
        [['a', 'b'], 1],
      ]),
    ],
    none,
  );
  assert.deepEqual(alone.conflicts, []);
});

test('one one-of member chosen by two filters alike is no conflict; parties list by filter, then field', () => {
  const same = layerFilters(
    frame(),
    [
      filter('s/b', 0, [[['loadBalancer', 'simple'], 'RANDOM']]),
      filter('s/a', 0, [[['loadBalancer', 'simple'], 'RANDOM']]),
    ],
    none,
  );
  assert.deepEqual(same.conflicts, []);
  assert.deepEqual(same.provenance['spec.http[0].loadBalancer.simple'], {
    filter: 's/a',
    owner: 'a',
    priority: 0,
    sharedWith: ['s/b'],
  });

  const apart = layerFilters(
    frame(),
    [
      filter('s/b', 0, [
        [['loadBalancer', 'consistentHash', 'ringHash', 'minimumRingSize'], 8],
        [['loadBalancer', 'consistentHash', 'useSourceIp'], true],
      ]),
      filter('s/a', 0, [[['loadBalancer', 'simple'], 'RANDOM']]),
    ],
    none,
  );
  assert.deepEqual(
    apart.conflicts[0]?.parties.map((p) => `${p.filter.key} ${p.field}`),
    [
      's/a spec.loadBalancer.simple',
      's/b spec.loadBalancer.consistentHash.ringHash.minimumRingSize',
      's/b spec.loadBalancer.consistentHash.useSourceIp',
    ],
  );
  assert.deepEqual(apart.root.spec, frame().spec);
});

test('a one-of inside a one-of: ringHash and maglev from two filters conflict though both choose consistentHash', () => {
  const out = layerFilters(
    frame(),
    [
      filter('s/ring', 0, [[['loadBalancer', 'consistentHash', 'ringHash', 'minimumRingSize'], 8]]),
      filter('s/maglev', 0, [[['loadBalancer', 'consistentHash', 'maglev', 'tableSize'], 7]]),
    ],
    none,
  );
  assert.deepEqual(
    out.conflicts.map((c) => [c.at, c.parties.map((p) => p.filter.key)]),
    [['spec.http[0].loadBalancer.consistentHash{ringHash|maglev|minimumRingSize}', ['s/maglev', 's/ring']]],
  );
  assert.deepEqual(out.root.spec, frame().spec);
});

test('provenance: a higher filter replacing a field drops what lower ones set inside it or in its one-of', () => {
  const out = layerFilters(
    frame(),
    [
      filter('s/low', 0, [
        [['headers', 'request', 'set', 'x-a'], '1'],
        [['loadBalancer', 'simple'], 'RANDOM'],
        [['timeout'], '1s'],
      ]),
      filter('s/high', 5, [
        [['headers', 'request', 'set'], { 'x-b': '2' }],
        [['loadBalancer', 'consistentHash', 'useSourceIp'], true],
        [['timeout'], '1s'],
      ]),
    ],
    none,
  );
  assert.deepEqual(out.provenance, {
    'spec.http[0].headers.request.set': { filter: 's/high', owner: 'high', priority: 5 },
    'spec.http[0].loadBalancer.consistentHash.useSourceIp': { filter: 's/high', owner: 'high', priority: 5 },
    'spec.http[0].timeout': { filter: 's/high', owner: 'high', priority: 5 },
  });
  assert.deepEqual(out.root.spec, {
    http: [
      {
        route: [],
        headers: { request: { set: { 'x-b': '2' } } },
        loadBalancer: { consistentHash: { useSourceIp: true } },
        timeout: '1s',
      },
    ],
  });
});

test('validation: only errors a filter adds reject it; the frame`s own errors do not', () => {
  const validate = (root: Record<string, unknown>) => {
    const route = (root.spec as { http: { timeout?: string }[] }).http[0];
    return [
      'spec: the frame was already odd',
      ...(route?.timeout === 'bad' ? ['spec.http[0].timeout: bad'] : []),
    ];
  };
  const out = layerFilters(
    frame(),
    [filter('s/ok', 0, [[['retries', 'attempts'], 2]]), filter('s/bad', 1, [[['timeout'], 'bad']])],
    validate,
  );
  assert.deepEqual(out.root.spec, { http: [{ route: [], retries: { attempts: 2 } }] });
  assert.deepEqual(out.rejected, [
    { filter: { key: 's/bad', owner: 'bad', priority: 1 }, errors: ['spec.http[0].timeout: bad'] },
  ]);
  assert.deepEqual(Object.keys(out.provenance), ['spec.http[0].retries.attempts']);
});

test('every place of a filter gets its fields; the input frame is not modified', () => {
  const input = { spec: { http: [{ route: [] }, { route: [] }] } };
  const out = layerFilters(
    input,
    [filter('s/a', 0, [[['timeout'], '1s']], [place('spec', 'http', 0)[0]!, ['spec', 'http', 1]])],
    none,
  );
  assert.deepEqual(out.root.spec, {
    http: [
      { route: [], timeout: '1s' },
      { route: [], timeout: '1s' },
    ],
  });
  assert.deepEqual(input, { spec: { http: [{ route: [] }, { route: [] }] } });
});
