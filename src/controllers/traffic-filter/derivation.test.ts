/**
 * The layering as users see it: TrafficFilters and their frame in, the effective VirtualService /
 * DestinationRule / RateLimit, their provenance and the reported problems out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import { validateResource } from '../../api/validate.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import type { DerivationResult } from '../derivation.js';
import { deriveTrafficFilters } from './derivation.js';
import { splitProvenance } from './provenance.js';

const HOST = 'reviews.shop.svc.cluster.local';

function vs(http: object[], extra: { namespace?: string; name?: string; hosts?: string[] } = {}): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: extra.name ?? 'reviews', namespace: extra.namespace ?? 'shop' },
    spec: { hosts: extra.hosts ?? ['reviews'], http },
  };
}

const to = (subset: string) => ({ destination: { host: 'reviews', subset } });
const ROUTES = [
  { name: 'canary', match: [{ headers: { 'x-canary': { exact: '1' } } }], route: [to('v2')] },
  { name: 'primary', route: [to('v1')], retries: { attempts: 1, perTryTimeout: '1s' } },
];

function dr(spec: object = {}, namespace = 'shop'): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace },
    spec: {
      host: 'reviews',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
      ...spec,
    },
  };
}

function tf(
  name: string,
  owner: string,
  priority: number,
  feature: object,
  target: object = {},
  namespace = 'shop',
): Resource {
  const r: Resource = {
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'TrafficFilter',
    metadata: { name, namespace },
    spec: { target: { host: 'reviews', ...target }, owner, priority, ...feature },
  };
  const errors = validateResource(r).filter((p) => p.severity === 'error');
  assert.deepEqual(errors, [], `fixture ${name} is a valid TrafficFilter`);
  return r;
}

function derive(...resources: Resource[]): DerivationResult {
  return deriveTrafficFilters(new FrozenSnapshot(1, resources));
}

function effective(result: DerivationResult, kind: string, name = 'reviews', namespace = 'shop') {
  const r = result.put?.find(
    (p) => p.kind === kind && p.metadata.name === name && p.metadata.namespace === namespace,
  );
  if (r === undefined) return undefined;
  const { resource, provenance, conflicts } = splitProvenance(r);
  // Every effective resource is one Istio (and Trellis) accepts.
  assert.deepEqual(
    validateResource(resource).filter((p) => p.severity === 'error'),
    [],
  );
  return { resource, provenance, conflicts };
}

/** The value at `spec.http[0].retries` of an effective resource. */
function field(e: { resource: Resource } | undefined, path: string): unknown {
  let node: unknown = e?.resource;
  for (const step of path.split(/\.|(?=\[)/)) {
    if (node === undefined || node === null) return undefined;
    const index = /^\[(\d+)\]$/.exec(step);
    node = index ? (node as unknown[])[Number(index[1])] : (node as Record<string, unknown>)[step];
  }
  return node;
}

function problems(result: DerivationResult): string[] {
  return (result.problems ?? []).flatMap((p) =>
    p.problems.map((q) => `${p.source.namespace}/${p.source.name} ${q.severity} ${q.path}: ${q.message}`),
  );
}

test('lower priority first, higher wins, field by field; provenance names who set each field', () => {
  const out = derive(
    vs(ROUTES),
    tf('platform', 'platform', 0, { retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx' } }),
    tf('team', 'reviews-team', 10, { retries: { attempts: 5 } }),
  );
  const e = effective(out, 'VirtualService');
  assert.deepEqual(field(e, 'spec.http[1].retries'), { attempts: 5, perTryTimeout: '2s', retryOn: '5xx' });
  assert.deepEqual(field(e, 'spec.http[0].retries'), { attempts: 5, perTryTimeout: '2s', retryOn: '5xx' });
  assert.deepEqual(e?.provenance['spec.http[1].retries.attempts'], {
    filter: 'shop/team',
    owner: 'reviews-team',
    priority: 10,
  });
  assert.deepEqual(e?.provenance['spec.http[1].retries.perTryTimeout'], {
    filter: 'shop/platform',
    owner: 'platform',
    priority: 0,
  });
  assert.deepEqual(problems(out), []);

  const swapped = derive(
    vs(ROUTES),
    tf('platform', 'platform', 20, { retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx' } }),
    tf('team', 'reviews-team', 10, { retries: { attempts: 5 } }),
  );
  assert.equal(field(effective(swapped, 'VirtualService'), 'spec.http[1].retries.attempts'), 3);
  assert.equal(
    effective(swapped, 'VirtualService')?.provenance['spec.http[1].retries.attempts']?.filter,
    'shop/platform',
  );
});

test('negative priorities come before the default 0', () => {
  const out = derive(
    vs(ROUTES),
    tf('base', 'platform', -5, { timeout: '9s' }),
    tf('zero', 'team', 0, { timeout: '3s' }),
  );
  assert.equal(field(effective(out, 'VirtualService'), 'spec.http[0].timeout'), '3s');
});

test('same field, same priority, different values: a reported conflict, neither wins, the rest applies', () => {
  const out = derive(
    vs(ROUTES),
    tf('a-team', 'team-a', 10, { retries: { attempts: 4, retryOn: 'connect-failure' } }),
    tf('b-team', 'team-b', 10, { retries: { attempts: 6, perTryTimeout: '3s' } }),
  );
  const e = effective(out, 'VirtualService');
  // attempts keeps the frame's value on the route that had one, and stays unset on the other.
  assert.deepEqual(field(e, 'spec.http[1].retries'), {
    attempts: 1,
    perTryTimeout: '3s',
    retryOn: 'connect-failure',
  });
  assert.deepEqual(field(e, 'spec.http[0].retries'), { perTryTimeout: '3s', retryOn: 'connect-failure' });
  assert.equal(e?.provenance['spec.http[1].retries.attempts'], undefined);
  assert.deepEqual(e?.conflicts, [
    { at: 'spec.http[0].retries.attempts', priority: 10, filters: ['shop/a-team', 'shop/b-team'] },
    { at: 'spec.http[1].retries.attempts', priority: 10, filters: ['shop/a-team', 'shop/b-team'] },
  ]);
  assert.deepEqual(problems(out), [
    'shop/a-team error spec.retries.attempts: conflicts with TrafficFilter shop/b-team (owner team-b) at the same priority 10: both set VirtualService shop/reviews spec.http[0].retries.attempts, spec.http[1].retries.attempts (this filter: 4; shop/b-team: 6), so neither applies there and it keeps what the frame and lower priorities give it; give one of them another priority',
    'shop/b-team error spec.retries.attempts: conflicts with TrafficFilter shop/a-team (owner team-a) at the same priority 10: both set VirtualService shop/reviews spec.http[0].retries.attempts, spec.http[1].retries.attempts (this filter: 6; shop/a-team: 4), so neither applies there and it keeps what the frame and lower priorities give it; give one of them another priority',
  ]);
});

test('a conflict keeps what the lower priorities set, and a higher priority still decides', () => {
  const base = tf('platform', 'platform', 0, { timeout: '10s' });
  const a = tf('a', 'team-a', 5, { timeout: '1s' });
  const b = tf('b', 'team-b', 5, { timeout: '2s' });
  const kept = derive(vs(ROUTES), base, a, b);
  assert.equal(field(effective(kept, 'VirtualService'), 'spec.http[0].timeout'), '10s');
  assert.equal(
    effective(kept, 'VirtualService')?.provenance['spec.http[0].timeout']?.filter,
    'shop/platform',
  );
  const decided = derive(vs(ROUTES), base, a, b, tf('sre', 'sre', 9, { timeout: '4s' }));
  assert.equal(field(effective(decided, 'VirtualService'), 'spec.http[0].timeout'), '4s');
  assert.equal(problems(decided).length, 2, 'the tie below is still reported');
});

test('same value at the same priority is no conflict; provenance names both', () => {
  const out = derive(
    vs(ROUTES),
    tf('a', 'team-a', 1, { timeout: '2s' }),
    tf('b', 'team-b', 1, { timeout: '2s' }),
  );
  assert.deepEqual(problems(out), []);
  assert.deepEqual(effective(out, 'VirtualService')?.provenance['spec.http[0].timeout'], {
    filter: 'shop/a',
    owner: 'team-a',
    priority: 1,
    sharedWith: ['shop/b'],
  });
});

test('ties are ordered by namespace/name whatever the input order', () => {
  const a = tf('a', 'team-a', 1, { headers: { request: { set: { 'x-a': '1' } } } });
  const b = tf('b', 'team-b', 1, { headers: { request: { set: { 'x-b': '1' } } } });
  const one = derive(vs(ROUTES), a, b);
  const two = derive(b, vs(ROUTES), a);
  assert.deepEqual(one, two);
  assert.deepEqual(field(effective(one, 'VirtualService'), 'spec.http[0].headers'), {
    request: { set: { 'x-a': '1', 'x-b': '1' } },
  });
});

test('a named route: only that route is patched', () => {
  const out = derive(
    vs(ROUTES),
    tf(
      'chaos',
      'chaos',
      100,
      { fault: { abort: { httpStatus: 503, percentage: { value: 100 } } } },
      { route: 'canary' },
    ),
  );
  const e = effective(out, 'VirtualService');
  assert.deepEqual(field(e, 'spec.http[0].fault'), {
    abort: { httpStatus: 503, percentage: { value: 100 } },
  });
  assert.equal(field(e, 'spec.http[1].fault'), undefined);
  assert.deepEqual(Object.keys(e?.provenance ?? {}), [
    'spec.http[0].fault.abort.httpStatus',
    'spec.http[0].fault.abort.percentage.value',
  ]);
});

test('a named subset: only its traffic policy is patched; without one, the DestinationRule-wide policy', () => {
  const out = derive(
    dr(),
    tf(
      'v2-od',
      'platform',
      0,
      { outlierDetection: { consecutive5xxErrors: 2, interval: '5s' } },
      { subset: 'v2' },
    ),
    tf('pool', 'platform', 0, { connectionPool: { http: { http1MaxPendingRequests: 7 } } }),
  );
  const e = effective(out, 'DestinationRule');
  assert.deepEqual(field(e, 'spec.subsets[1].trafficPolicy'), {
    outlierDetection: { consecutive5xxErrors: 2, interval: '5s' },
  });
  assert.equal(field(e, 'spec.subsets[0].trafficPolicy'), undefined);
  assert.deepEqual(field(e, 'spec.trafficPolicy'), {
    connectionPool: { http: { http1MaxPendingRequests: 7 } },
  });
  assert.equal(
    e?.provenance['spec.subsets[1].trafficPolicy.outlierDetection.interval']?.filter,
    'shop/v2-od',
  );
});

/** Every feature: the filter's value lands at its place in the frame, with Istio's shape. */
const FEATURES: [string, object, (e: NonNullable<ReturnType<typeof effective>>) => unknown, unknown][] = [
  ['retries', { retries: { attempts: 2 } }, (e) => field(e, 'spec.http[0].retries'), { attempts: 2 }],
  ['timeout', { timeout: '7s' }, (e) => field(e, 'spec.http[0].timeout'), '7s'],
  [
    'fault',
    { fault: { delay: { fixedDelay: '1s', percentage: { value: 5 } } } },
    (e) => field(e, 'spec.http[0].fault'),
    { delay: { fixedDelay: '1s', percentage: { value: 5 } } },
  ],
  [
    'mirror',
    { mirror: { host: 'shadow', subset: 'a' }, mirrorPercentage: { value: 10 } },
    (e) => [field(e, 'spec.http[0].mirror'), field(e, 'spec.http[0].mirrorPercentage')],
    [{ host: 'shadow', subset: 'a' }, { value: 10 }],
  ],
  [
    'headers',
    { headers: { response: { remove: ['server'] } } },
    (e) => field(e, 'spec.http[0].headers'),
    { response: { remove: ['server'] } },
  ],
  [
    'corsPolicy',
    { corsPolicy: { allowOrigins: [{ exact: 'https://a' }] } },
    (e) => field(e, 'spec.http[0].corsPolicy'),
    { allowOrigins: [{ exact: 'https://a' }] },
  ],
  [
    'outlierDetection',
    { outlierDetection: { baseEjectionTime: '30s' } },
    (e) => field(e, 'spec.trafficPolicy'),
    { outlierDetection: { baseEjectionTime: '30s' } },
  ],
  [
    'connectionPool',
    { connectionPool: { tcp: { maxConnections: 9 } } },
    (e) => field(e, 'spec.trafficPolicy'),
    { connectionPool: { tcp: { maxConnections: 9 } } },
  ],
  [
    'loadBalancer',
    { loadBalancer: { simple: 'LEAST_REQUEST' } },
    (e) => field(e, 'spec.trafficPolicy'),
    { loadBalancer: { simple: 'LEAST_REQUEST' } },
  ],
  [
    'retryBudget',
    { retryBudget: { budgetPercent: 25, minRetryConcurrency: 2 } },
    (e) => e.resource.metadata.annotations?.['trellis.io/retry-budget'],
    '{"budgetPercent":25,"minRetryConcurrency":2}',
  ],
  [
    'retryBudget off',
    { retryBudget: 'off' },
    (e) => e.resource.metadata.annotations?.['trellis.io/retry-budget'],
    'off',
  ],
];

for (const [name, feature, read, expected] of FEATURES) {
  test(`feature ${name}: lands in the frame, and only there`, () => {
    const out = derive(vs(ROUTES), dr(), tf('f', 'platform', 0, feature));
    const kind =
      ['outlierDetection', 'connectionPool', 'loadBalancer'].includes(name) || name.startsWith('retryBudget')
        ? 'DestinationRule'
        : 'VirtualService';
    const e = effective(out, kind);
    assert.ok(e, `the ${kind} is patched`);
    assert.deepEqual(read(e), expected);
    assert.equal(out.put?.length, 1, 'the other frame is served as written');
    assert.deepEqual(problems(out), []);
    assert.ok(Object.values(e.provenance).every((p) => p.filter === 'shop/f'));
  });
}

test('feature rateLimit: the filters of a host layer into one local RateLimit', () => {
  const out = derive(
    tf('base', 'platform', 0, { rateLimit: { tokensPerFill: 100, fillInterval: '1m', maxTokens: 150 } }),
    tf('raise', 'team', 5, { rateLimit: { tokensPerFill: 120, fillInterval: '1m', maxTokens: 200 } }),
  );
  const e = effective(out, 'RateLimit', `traffic-filter.${HOST}`);
  assert.deepEqual(field(e, 'spec'), {
    hosts: [HOST],
    mode: 'local',
    side: 'server',
    limits: [{ name: 'traffic-filter', quota: { requests: 120, per: 'minute', burst: 200 } }],
  });
  assert.equal(e?.provenance['spec.limits[0].quota.requests']?.filter, 'shop/raise');
  assert.equal(
    e?.provenance['spec.limits[0].quota.per']?.filter,
    'shop/raise',
    'the higher priority set it last',
  );
});

test('a filter that would make its frame invalid is left out whole and reported', () => {
  const out = derive(
    tf('base', 'platform', 0, { rateLimit: { tokensPerFill: 10, fillInterval: '1s', maxTokens: 10 } }),
    tf('more', 'team', 5, { rateLimit: { tokensPerFill: 50, fillInterval: '1s' } }),
  );
  assert.deepEqual(field(effective(out, 'RateLimit', `traffic-filter.${HOST}`), 'spec.limits[0].quota'), {
    requests: 10,
    per: 'second',
    burst: 10,
  });
  assert.deepEqual(problems(out), [
    `shop/more error spec: not applied to RateLimit shop/traffic-filter.${HOST}: the result would be invalid (spec.rateLimit.maxTokens: must be at least tokensPerFill (50): the bucket holds a whole fill); change the filter or the frame`,
  ]);
});

test('one-ofs: a filter choosing consistentHash replaces the frame`s simple; two choices at one priority conflict', () => {
  const frame = dr({ trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } });
  const out = derive(
    frame,
    tf('hash', 'team', 0, { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }),
  );
  assert.deepEqual(field(effective(out, 'DestinationRule'), 'spec.trafficPolicy'), {
    loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } },
  });

  const tie = derive(
    frame,
    tf('hash', 'team', 0, { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }),
    tf('least', 'platform', 0, { loadBalancer: { simple: 'LEAST_REQUEST' } }),
  );
  const kept = effective(tie, 'DestinationRule');
  assert.deepEqual(
    field(kept, 'spec.trafficPolicy'),
    { loadBalancer: { simple: 'ROUND_ROBIN' } },
    'the frame keeps ROUND_ROBIN',
  );
  assert.deepEqual(kept?.provenance, {});
  assert.deepEqual(kept?.conflicts, [
    {
      at: 'spec.trafficPolicy.loadBalancer{simple|consistentHash}',
      priority: 0,
      filters: ['shop/hash', 'shop/least'],
    },
  ]);
  assert.deepEqual(
    problems(tie).map((p) => p.split(':')[0]),
    [
      'shop/hash error spec.loadBalancer.consistentHash.httpHeaderName',
      'shop/least error spec.loadBalancer.simple',
    ],
  );
  assert.match(
    problems(tie)[0] ?? '',
    /DestinationRule shop\/reviews spec\.trafficPolicy\.loadBalancer\{simple\|consistentHash\}/,
  );
});

test('deleting a filter removes exactly its feature', () => {
  const platform = tf('platform', 'platform', 0, { retries: { attempts: 3 } });
  const timeout = tf('timeout', 'platform', 0, { timeout: '5s' });
  const chaos = tf('chaos', 'chaos', 100, {
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } },
  });
  const withChaos = effective(derive(vs(ROUTES), platform, timeout, chaos), 'VirtualService');
  const without = effective(derive(vs(ROUTES), platform, timeout), 'VirtualService');
  assert.ok(field(withChaos, 'spec.http[0].fault'));
  assert.equal(field(without, 'spec.http[0].fault'), undefined);
  const routes = field(withChaos, 'spec.http') as { fault?: unknown }[];
  const stripped = { ...(withChaos?.resource.spec as object), http: routes.map(({ fault: _f, ...r }) => r) };
  assert.deepEqual(stripped, without?.resource.spec, 'everything but the fault is the same');
  assert.deepEqual(derive(vs(ROUTES)), {}, 'no filters: the frame as written');
});

test('a filter without a frame is reported and creates none', () => {
  const out = derive(
    tf('orphan', 'platform', 0, { timeout: '1s' }),
    tf('orphan-dr', 'platform', 0, { loadBalancer: { simple: 'RANDOM' } }),
  );
  assert.deepEqual(out.put, []);
  assert.deepEqual(problems(out), [
    `shop/orphan warning spec.target.host: no VirtualService serves ${HOST} in namespace shop, so timeout is not applied: a TrafficFilter patches the host's VirtualService (its frame) and creates none; write one for the host (or a Router)`,
    `shop/orphan-dr warning spec.target.host: no DestinationRule serves ${HOST} in namespace shop, so loadBalancer is not applied: a TrafficFilter patches the host's DestinationRule (its frame) and creates none; write one for the host (or a Router)`,
  ]);
});

test('bypass: a filter in another namespace cannot patch the service`s VirtualService', () => {
  const evil = tf(
    'inject',
    'mallory',
    1000,
    { fault: { abort: { httpStatus: 500, percentage: { value: 100 } } } },
    { host: HOST },
    'evil',
  );
  // Even a VirtualService in the evil namespace naming the host is not the shop's frame.
  const out = derive(vs(ROUTES), evil);
  assert.deepEqual(out.put, []);
  assert.deepEqual(problems(out), [
    `evil/inject warning spec.target.host: no VirtualService in namespace evil serves ${HOST}; shop/reviews does, but a TrafficFilter patches only its own namespace's resources: create the filter in that namespace`,
  ]);
  const own = derive(vs(ROUTES), vs(ROUTES, { namespace: 'evil', hosts: [HOST] }), evil);
  assert.deepEqual(out.put, []);
  assert.deepEqual(
    own.put?.map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    ['evil/reviews'],
    'only its own namespace`s VirtualService',
  );
});

test('a named route or subset that does not exist is reported', () => {
  const out = derive(
    vs(ROUTES),
    dr(),
    tf('r', 'team', 0, { timeout: '1s' }, { route: 'missing' }),
    tf('s', 'team', 0, { loadBalancer: { simple: 'RANDOM' } }, { subset: 'v9' }),
  );
  assert.deepEqual(out.put, []);
  assert.deepEqual(problems(out), [
    `shop/r warning spec.target.route: the VirtualService of ${HOST} has no forwarding http route named "missing", so timeout is not applied: name one of its routes (with a route: list), or leave route out`,
    `shop/s warning spec.target.subset: the DestinationRule of ${HOST} has no subset named "v9", so loadBalancer is not applied: name one of its subsets, or leave subset out`,
  ]);
});

test('redirects and direct responses are left alone (fault cannot combine with them)', () => {
  const frame = vs([
    { name: 'old', match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new' } },
    ...ROUTES,
  ]);
  const out = derive(frame, tf('chaos', 'chaos', 0, { fault: { abort: { httpStatus: 503 } } }));
  const e = effective(out, 'VirtualService');
  assert.equal(field(e, 'spec.http[0].fault'), undefined);
  assert.ok(field(e, 'spec.http[1].fault') && field(e, 'spec.http[2].fault'));
});

test('a VirtualService that routes other hosts too is patched, with a warning naming them', () => {
  const out = derive(
    vs(ROUTES, { hosts: ['reviews', 'ratings', 'reviews.shop.svc.cluster.local'] }),
    tf('t', 'team', 0, { timeout: '1s' }),
  );
  assert.equal(field(effective(out, 'VirtualService'), 'spec.http[0].timeout'), '1s');
  assert.deepEqual(problems(out), [
    `shop/t warning spec.target.host: VirtualService shop/reviews also routes ratings.shop.svc.cluster.local: timeout applies to their requests too; give ${HOST} a VirtualService of its own to keep it apart`,
  ]);
});

test('pure: the same snapshot gives the same result, and the input is not modified', () => {
  const input = [
    vs(ROUTES),
    dr(),
    tf('a', 'x', 0, { timeout: '1s' }),
    tf('b', 'y', 0, { loadBalancer: { simple: 'RANDOM' } }),
  ];
  const before = JSON.stringify(input);
  assert.deepEqual(derive(...input), derive(...input));
  assert.equal(JSON.stringify(input), before);
});
