import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featureLeaves, sameValue, setLeaf } from './merge-rules.js';

test('leaves: objects split field by field; lists, scalars, empty objects and whole-value objects stay whole', () => {
  assert.deepEqual(featureLeaves('retries', { retries: { attempts: 3, retryOn: '5xx', backoff: null } }), [
    { path: ['retries', 'attempts'], value: 3 },
    { path: ['retries', 'retryOn'], value: '5xx' },
  ]);
  assert.deepEqual(
    featureLeaves('mirror', { mirror: { host: 'a', subset: 'v1' }, mirrorPercentage: { value: 5 } }),
    [
      { path: ['mirror'], value: { host: 'a', subset: 'v1' } },
      { path: ['mirrorPercentage', 'value'], value: 5 },
    ],
  );
  assert.deepEqual(featureLeaves('mirror', { mirror: { host: 'a' }, mirrorPercentage: null }), [
    { path: ['mirror'], value: { host: 'a' } },
  ]);
  assert.deepEqual(featureLeaves('timeout', { timeout: '1s', mirrorPercentage: { value: 5 } }), [
    { path: ['timeout'], value: '1s' },
  ]);
  assert.deepEqual(
    featureLeaves('headers', { headers: { request: { set: {} }, response: { remove: ['a'] } } }),
    [
      { path: ['headers', 'request', 'set'], value: {} },
      { path: ['headers', 'response', 'remove'], value: ['a'] },
    ],
  );
  assert.deepEqual(
    featureLeaves('loadBalancer', {
      loadBalancer: { consistentHash: { httpCookie: { name: 'u', ttl: '0s' } } },
    }),
    [{ path: ['loadBalancer', 'consistentHash', 'httpCookie'], value: { name: 'u', ttl: '0s' } }],
  );
  assert.deepEqual(featureLeaves('retryBudget', { retryBudget: { budgetPercent: 10 } }), [
    { path: ['trellis.io/retry-budget'], value: '{"budgetPercent":10}' },
  ]);
  assert.deepEqual(featureLeaves('retryBudget', { retryBudget: 'off' }), [
    { path: ['trellis.io/retry-budget'], value: 'off' },
  ]);
});

/** [name, place content before, path set, value, place content after, cleared (relative)]. */
const ONE_OFS: [string, object, string[], unknown, object, string[][]][] = [
  [
    'mirror replaces mirrors',
    { mirrors: [{ destination: { host: 'a' } }] },
    ['mirror'],
    { host: 'b' },
    { mirror: { host: 'b' } },
    [['mirrors']],
  ],
  [
    'mirrorPercentage replaces mirrorPercent',
    { mirrorPercent: 5 },
    ['mirrorPercentage', 'value'],
    7,
    { mirrorPercentage: { value: 7 } },
    [['mirrorPercent']],
  ],
  [
    'abort httpStatus replaces grpcStatus',
    { fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 1 } } } },
    ['fault', 'abort', 'httpStatus'],
    503,
    { fault: { abort: { httpStatus: 503, percentage: { value: 1 } } } },
    [['fault', 'abort', 'grpcStatus']],
  ],
  [
    'abort grpcStatus replaces httpStatus',
    { fault: { abort: { httpStatus: 500 } } },
    ['fault', 'abort', 'grpcStatus'],
    'INTERNAL',
    { fault: { abort: { grpcStatus: 'INTERNAL' } } },
    [['fault', 'abort', 'httpStatus']],
  ],
  [
    'abort replaces http2Error',
    { fault: { abort: { http2Error: 'x' } } },
    ['fault', 'abort', 'httpStatus'],
    500,
    { fault: { abort: { httpStatus: 500 } } },
    [['fault', 'abort', 'http2Error']],
  ],
  [
    'delay percentage replaces percent',
    { fault: { delay: { percent: 5, fixedDelay: '1s' } } },
    ['fault', 'delay', 'percentage', 'value'],
    9,
    { fault: { delay: { fixedDelay: '1s', percentage: { value: 9 } } } },
    [['fault', 'delay', 'percent']],
  ],
  [
    'fixedDelay replaces exponentialDelay',
    { fault: { delay: { exponentialDelay: '1s' } } },
    ['fault', 'delay', 'fixedDelay'],
    '2s',
    { fault: { delay: { fixedDelay: '2s' } } },
    [['fault', 'delay', 'exponentialDelay']],
  ],
  [
    'allowOrigins replaces allowOrigin',
    { corsPolicy: { allowOrigin: ['a'], maxAge: '1s' } },
    ['corsPolicy', 'allowOrigins'],
    [{ exact: 'b' }],
    { corsPolicy: { maxAge: '1s', allowOrigins: [{ exact: 'b' }] } },
    [['corsPolicy', 'allowOrigin']],
  ],
  [
    'consistentHash replaces simple, keeps locality',
    { loadBalancer: { simple: 'RANDOM', localityLbSetting: { enabled: true } } },
    ['loadBalancer', 'consistentHash', 'useSourceIp'],
    true,
    { loadBalancer: { localityLbSetting: { enabled: true }, consistentHash: { useSourceIp: true } } },
    [['loadBalancer', 'simple']],
  ],
  [
    'simple replaces consistentHash',
    { loadBalancer: { consistentHash: { useSourceIp: true } } },
    ['loadBalancer', 'simple'],
    'RANDOM',
    { loadBalancer: { simple: 'RANDOM' } },
    [['loadBalancer', 'consistentHash']],
  ],
  [
    'header key replaces cookie',
    { loadBalancer: { consistentHash: { httpCookie: { name: 'a', ttl: '0s' } } } },
    ['loadBalancer', 'consistentHash', 'httpHeaderName'],
    'x',
    { loadBalancer: { consistentHash: { httpHeaderName: 'x' } } },
    [['loadBalancer', 'consistentHash', 'httpCookie']],
  ],
  [
    'query key replaces source ip',
    { loadBalancer: { consistentHash: { useSourceIp: true } } },
    ['loadBalancer', 'consistentHash', 'httpQueryParameterName'],
    'q',
    { loadBalancer: { consistentHash: { httpQueryParameterName: 'q' } } },
    [['loadBalancer', 'consistentHash', 'useSourceIp']],
  ],
  [
    'cookie replaces query key',
    { loadBalancer: { consistentHash: { httpQueryParameterName: 'q' } } },
    ['loadBalancer', 'consistentHash', 'httpCookie'],
    { name: 'c' },
    { loadBalancer: { consistentHash: { httpCookie: { name: 'c' } } } },
    [['loadBalancer', 'consistentHash', 'httpQueryParameterName']],
  ],
  [
    'maglev replaces ringHash and minimumRingSize',
    {
      loadBalancer: {
        consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 8 }, minimumRingSize: 4 },
      },
    },
    ['loadBalancer', 'consistentHash', 'maglev', 'tableSize'],
    7,
    { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 7 } } } },
    [
      ['loadBalancer', 'consistentHash', 'ringHash'],
      ['loadBalancer', 'consistentHash', 'minimumRingSize'],
    ],
  ],
  [
    'distribute replaces failover',
    { loadBalancer: { localityLbSetting: { failover: [{ from: 'a', to: 'b' }] } } },
    ['loadBalancer', 'localityLbSetting', 'distribute'],
    [],
    { loadBalancer: { localityLbSetting: { distribute: [] } } },
    [['loadBalancer', 'localityLbSetting', 'failover']],
  ],
  [
    'the same member is replaced, nothing cleared',
    { loadBalancer: { simple: 'RANDOM' } },
    ['loadBalancer', 'simple'],
    'LEAST_REQUEST',
    { loadBalancer: { simple: 'LEAST_REQUEST' } },
    [],
  ],
  [
    'not a one-of: siblings stay',
    { retries: { attempts: 1, perTryTimeout: '1s' } },
    ['retries', 'attempts'],
    2,
    { retries: { attempts: 2, perTryTimeout: '1s' } },
    [],
  ],
  [
    'a one-of name elsewhere is no one-of',
    { x: { simple: 1 } },
    ['x', 'consistentHash'],
    2,
    { x: { simple: 1, consistentHash: 2 } },
    [],
  ],
  [
    'missing objects are made, a scalar in the way replaced',
    { retries: 'odd' },
    ['retries', 'attempts'],
    2,
    { retries: { attempts: 2 } },
    [],
  ],
];

for (const [name, before, path, value, after, cleared] of ONE_OFS) {
  test(`set: ${name}`, () => {
    const root = { spec: { http: [{}, structuredClone(before)] } } as Record<string, unknown>;
    const out = setLeaf(root, ['spec', 'http', 1], path, value);
    assert.deepEqual(root, { spec: { http: [{}, after] } });
    assert.deepEqual(
      out,
      cleared.map((c) => ['spec', 'http', 1, ...c]),
    );
  });
}

test('set: the place is made when the frame has none (a DestinationRule without trafficPolicy)', () => {
  const root: Record<string, unknown> = { spec: { host: 'a', trafficPolicy: null } };
  setLeaf(root, ['spec', 'trafficPolicy'], ['outlierDetection', 'interval'], '5s');
  assert.deepEqual(root, { spec: { host: 'a', trafficPolicy: { outlierDetection: { interval: '5s' } } } });
  const value = { name: 'c' };
  setLeaf(root, ['spec', 'trafficPolicy'], ['loadBalancer', 'consistentHash', 'httpCookie'], value);
  value.name = 'changed';
  assert.deepEqual(
    root,
    {
      spec: {
        host: 'a',
        trafficPolicy: {
          outlierDetection: { interval: '5s' },
          loadBalancer: { consistentHash: { httpCookie: { name: 'c' } } },
        },
      },
    },
    'values are copied',
  );
});

test('same value: key order ignored, list order and types not', () => {
  assert.ok(sameValue({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }));
  assert.ok(!sameValue([1, 2], [2, 1]));
  assert.ok(!sameValue([1, 23], [12, 3]));
  assert.ok(sameValue([{ a: 1, b: 2 }], [{ b: 2, a: 1 }]));
  assert.ok(!sameValue({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!sameValue({ a: '1' }, { a: 1 }));
  assert.ok(!sameValue(['a,b'], ['a', 'b']));
  assert.ok(!sameValue({ 'a:1': 2 }, { a: '1:2' }));
  assert.ok(!sameValue([{}], [[]]));
  assert.ok(sameValue(undefined, undefined));
  assert.ok(!sameValue(undefined, 'undefined'));
});
