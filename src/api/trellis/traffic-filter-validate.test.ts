import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../parse.js';
import { validateResource } from '../validate.js';

function problemsOf(spec: unknown, severity: 'error' | 'warning' = 'error'): string[] {
  return validateResource({
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'TrafficFilter',
    metadata: { name: 'tf', namespace: 'shop' },
    spec,
  })
    .filter((p) => p.severity === severity)
    .map(formatProblem);
}

const base = { target: { host: 'reviews' }, owner: 'platform' };
const spec = (extra: object, target: object = {}) => ({
  ...base,
  ...extra,
  target: { ...base.target, ...target },
});

test('the documented example parses from YAML, with file and no problems', () => {
  const docs = parseAndValidate(
    `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: reviews-chaos, namespace: shop }
spec:
  target: { host: reviews, route: primary }
  owner: chaos
  priority: 100
  fault:
    abort: { httpStatus: 503, percentage: { value: 10 } }
`,
    'chaos.yaml',
  );
  assert.deepEqual(docs[0]?.problems.map(formatProblem), []);
  assert.equal(docs[0]?.resource?.kind, 'TrafficFilter');
});

const VALID: [string, object][] = [
  ['retries', spec({ retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx,connect-failure' } })],
  ['timeout on a named route', spec({ timeout: '5s', priority: -3 }, { route: 'primary' })],
  ['fault delay', spec({ fault: { delay: { fixedDelay: '1s', percentage: { value: 50 } } } })],
  ['mirror with percentage', spec({ mirror: { host: 'shadow' }, mirrorPercentage: { value: 5 } })],
  ['headers', spec({ headers: { request: { set: { 'x-team': 'a' } }, response: { remove: ['server'] } } })],
  ['cors', spec({ corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], allowMethods: ['GET'] } })],
  [
    'outlier detection on a subset',
    spec({ outlierDetection: { consecutive5xxErrors: 5, interval: '10s' } }, { subset: 'v2' }),
  ],
  ['connection pool', spec({ connectionPool: { http: { http1MaxPendingRequests: 10 } } })],
  ['load balancer', spec({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } })],
  ['retry budget', spec({ retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } })],
  ['retry budget off', spec({ retryBudget: 'off' })],
  ['rate limit', spec({ rateLimit: { tokensPerFill: 100, fillInterval: '1s', maxTokens: 200 } })],
  ['rate limit per day', spec({ rateLimit: { tokensPerFill: 100, fillInterval: '24h' } })],
];

for (const [name, s] of VALID) {
  test(`valid: ${name}`, () => assert.deepEqual(problemsOf(s), []));
}

const INVALID: [string, object, string[]][] = [
  [
    'no feature',
    base,
    [
      'spec: set exactly one feature to patch: retries, timeout, fault, mirror, headers, corsPolicy, outlierDetection, connectionPool, loadBalancer, retryBudget, rateLimit',
    ],
  ],
  [
    'two features',
    spec({ timeout: '1s', retries: { attempts: 2 } }),
    [
      'spec: a TrafficFilter patches exactly one feature, found retries, timeout: write one TrafficFilter per feature',
    ],
  ],
  ['no owner, no target', { timeout: '1s' }, ['spec.owner: required', 'spec.target: required']],
  ['blank owner', spec({ owner: '  ', timeout: '1s' }), ['spec.owner: must not be blank']],
  [
    'priority not an integer',
    spec({ priority: 1.5, timeout: '1s' }),
    ['spec.priority: expected a whole number, got 1.5'],
  ],
  [
    'priority out of int32',
    spec({ priority: 2 ** 31, timeout: '1s' }),
    ['spec.priority: 2147483648 is out of range; expected -2147483648..2147483647'],
  ],
  [
    'wildcard host',
    spec({ timeout: '1s' }, { host: '*.shop' }),
    ['spec.target.host: must name one service host, without wildcards'],
  ],
  [
    'unknown target field',
    spec({ timeout: '1s' }, { port: 80 }),
    ['spec.target.port: unknown field; allowed: host, route, subset'],
  ],
  [
    'route with a DestinationRule feature',
    spec({ loadBalancer: { simple: 'RANDOM' } }, { route: 'primary' }),
    [
      'spec.target.route: loadBalancer is not a route feature (retries, timeout, fault, mirror, headers, corsPolicy); leave route out, or name a subset',
    ],
  ],
  [
    'subset with a route feature',
    spec({ timeout: '1s' }, { subset: 'v2' }),
    [
      'spec.target.subset: timeout is not a DestinationRule traffic policy feature (outlierDetection, connectionPool, loadBalancer); leave subset out, or name a route',
    ],
  ],
  [
    'subset with a retry budget',
    spec({ retryBudget: 'off' }, { subset: 'v2' }),
    [
      'spec.target.subset: retryBudget is not a DestinationRule traffic policy feature (outlierDetection, connectionPool, loadBalancer); leave subset out',
    ],
  ],
  [
    'bad subset name',
    spec({ loadBalancer: { simple: 'RANDOM' } }, { subset: 'V_2' }),
    ['spec.target.subset'],
  ],
  // Istio's own validators, with the filter's paths.
  [
    'retries attempts negative',
    spec({ retries: { attempts: -1 } }),
    ['spec.retries.attempts: -1 is out of range; expected >= 0'],
  ],
  [
    'retryOn unknown',
    spec({ retries: { retryOn: 'sometimes' } }),
    ['spec.retries.retryOn: "sometimes" is not a retry condition'],
  ],
  ['timeout not a duration', spec({ timeout: 'soon' }), ['spec.timeout: invalid duration "soon"']],
  ['empty fault', spec({ fault: {} }), ['spec.fault: requires a delay, an abort or both']],
  [
    'abort status out of range',
    spec({ fault: { abort: { httpStatus: 99 } } }),
    ['spec.fault.abort.httpStatus: 99 is out of range; expected 200..599'],
  ],
  [
    'mirrorPercentage alone',
    spec({ mirrorPercentage: { value: 5 } }),
    ['spec: set exactly one feature to patch', 'spec.mirrorPercentage: only together with mirror'],
  ],
  [
    'mirror to a wildcard',
    spec({ mirror: { host: '*' } }),
    ['spec.mirror.host: a destination cannot be the wildcard host *'],
  ],
  [
    'header name',
    spec({ headers: { request: { set: { 'bad header': 'x' } } } }),
    ['spec.headers.request.set'],
  ],
  [
    'cors method',
    spec({ corsPolicy: { allowMethods: ['FETCH'] } }),
    ['spec.corsPolicy.allowMethods[0]: "FETCH" is not an HTTP method'],
  ],
  [
    'outlier percent',
    spec({ outlierDetection: { maxEjectionPercent: 101 } }),
    ['spec.outlierDetection.maxEjectionPercent: 101 is out of range; expected 0..100'],
  ],
  [
    'pool unknown field',
    spec({ connectionPool: { tcp: { maxConns: 1 } } }),
    ['spec.connectionPool.tcp.maxConns: unknown field'],
  ],
  [
    'lb both',
    spec({ loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } }),
    ['spec.loadBalancer'],
  ],
  [
    'tls is not a feature',
    spec({ tls: { mode: 'DISABLE' } }),
    ['spec.tls: unknown field', 'spec: set exactly one feature'],
  ],
  [
    'retry budget word',
    spec({ retryBudget: 'on' }),
    ['spec.retryBudget: expected off or {budgetPercent, minRetryConcurrency}, got "on"'],
  ],
  [
    'retry budget percent',
    spec({ retryBudget: { budgetPercent: 120 } }),
    ['spec.retryBudget.budgetPercent: 120 is out of range; expected 0..100'],
  ],
  [
    'rate limit interval',
    spec({ rateLimit: { tokensPerFill: 10, fillInterval: '100ms' } }),
    [
      'spec.rateLimit.fillInterval: the local rate limit refills once per second, minute, hour or day: use 1s, 1m, 1h or 24h and scale tokensPerFill',
    ],
  ],
  [
    'rate limit small bucket',
    spec({ rateLimit: { tokensPerFill: 10, fillInterval: '1s', maxTokens: 5 } }),
    ['spec.rateLimit.maxTokens: must be at least tokensPerFill (10)'],
  ],
  [
    'rate limit no tokens',
    spec({ rateLimit: { fillInterval: '1s' } }),
    ['spec.rateLimit.tokensPerFill: required'],
  ],
  [
    'rate limit on a route',
    spec({ rateLimit: { tokensPerFill: 1, fillInterval: '1s' } }, { route: 'r' }),
    ['spec.target.route: rateLimit is not a route feature'],
  ],
];

for (const [name, s, expected] of INVALID) {
  test(`invalid: ${name}`, () => {
    const got = problemsOf(s);
    for (const e of expected) {
      assert.ok(
        got.some((g) => g.startsWith(e)),
        `expected ${JSON.stringify(e)} in ${JSON.stringify(got)}`,
      );
    }
    assert.equal(got.length, expected.length, `exactly the expected problems: ${JSON.stringify(got)}`);
  });
}

test('a rejected filter file names the file and the field path', () => {
  const docs = parseAndValidate(
    `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: bad, namespace: shop }
spec:
  target: { host: reviews }
  owner: platform
  retries: { attempts: many }
`,
    'platform/retries.yaml',
  );
  const errors = docs[0]?.problems.filter((p) => p.severity === 'error') ?? [];
  assert.equal(docs[0]?.source.file, 'platform/retries.yaml');
  assert.deepEqual(errors.map(formatProblem), [
    'spec.retries.attempts: expected a whole number, got the string "many"',
  ]);
});
