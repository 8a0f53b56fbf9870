/**
 * Each editor form's values to the resources it writes (as YAML, what `trellis get -o yaml`
 * would show), and what is left out when inputs are empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { FEATURE_FORMS, featureEdit } from './features.js';
import type { ResourceObject, ServiceConfig, ServiceInfo } from './model.js';

const SVC: ServiceInfo = {
  host: 'reviews.shop.svc.cluster.local',
  name: 'reviews',
  namespace: 'shop',
  versions: ['v1', 'v2'],
};
const VS = { kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop' } } as ResourceObject;
const DR = { kind: 'DestinationRule', metadata: { name: 'reviews', namespace: 'shop' } } as ResourceObject;
const FRAMED: ServiceConfig = { virtualService: VS, destinationRule: DR };

const form = (feature: string) => {
  const f = FEATURE_FORMS.find((x) => x.feature === feature);
  assert.ok(f, feature);
  return f;
};

const filterYaml = (name: string, body: string) => `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata:
  name: reviews-console-${name}
  namespace: shop
spec:
  target:
    host: reviews.shop.svc.cluster.local
  owner: console
${body}`;

const TABLE: { feature: string; values: Record<string, string>; yaml: string }[] = [
  { feature: 'timeout', values: { timeout: '2s' }, yaml: filterYaml('timeout', '  timeout: 2s\n') },
  {
    feature: 'retries',
    values: { attempts: '3', perTryTimeout: '1s', retryOn: '5xx' },
    yaml: filterYaml('retries', '  retries:\n    attempts: 3\n    perTryTimeout: 1s\n    retryOn: 5xx\n'),
  },
  {
    feature: 'retries',
    values: { attempts: ' three ', perTryTimeout: '', retryOn: '' },
    // Not a number: sent as typed, for the control plane to name spec.retries.attempts.
    yaml: filterYaml('retries', '  retries:\n    attempts: three\n'),
  },
  {
    feature: 'fault',
    values: { delay: '500ms', delayPercent: '10', abortStatus: '503', abortPercent: '2.5' },
    yaml: filterYaml(
      'fault',
      '  fault:\n    delay:\n      fixedDelay: 500ms\n      percentage:\n        value: 10\n    abort:\n      httpStatus: 503\n      percentage:\n        value: 2.5\n',
    ),
  },
  {
    feature: 'fault',
    values: { delay: '', delayPercent: '50', abortStatus: '503', abortPercent: '' },
    yaml: filterYaml('fault', '  fault:\n    abort:\n      httpStatus: 503\n'),
  },
  {
    feature: 'mirror',
    values: { host: 'reviews-shadow', subset: 'v2', percent: '20' },
    yaml: filterYaml(
      'mirror',
      '  mirror:\n    host: reviews-shadow\n    subset: v2\n  mirrorPercentage:\n    value: 20\n',
    ),
  },
  {
    feature: 'rateLimit',
    values: { tokensPerFill: '100', fillInterval: '1m', maxTokens: '' },
    yaml: filterYaml('rate-limit', '  rateLimit:\n    tokensPerFill: 100\n    fillInterval: 1m\n'),
  },
  {
    feature: 'rateLimit',
    values: { tokensPerFill: '10', fillInterval: '', maxTokens: '20' },
    yaml: filterYaml(
      'rate-limit',
      '  rateLimit:\n    tokensPerFill: 10\n    fillInterval: 1s\n    maxTokens: 20\n',
    ),
  },
  {
    feature: 'outlierDetection',
    values: { consecutive5xxErrors: '5', interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: '50' },
    yaml: filterYaml(
      'outlier-detection',
      '  outlierDetection:\n    consecutive5xxErrors: 5\n    interval: 10s\n    baseEjectionTime: 30s\n    maxEjectionPercent: 50\n',
    ),
  },
  {
    feature: 'connectionPool',
    values: {
      maxConnections: '10',
      http1MaxPendingRequests: '',
      http2MaxRequests: '100',
      maxRequestsPerConnection: '',
    },
    yaml: filterYaml(
      'connection-pool',
      '  connectionPool:\n    tcp:\n      maxConnections: 10\n    http:\n      http2MaxRequests: 100\n',
    ),
  },
  {
    feature: 'loadBalancer',
    values: { simple: 'LEAST_REQUEST' },
    yaml: filterYaml('load-balancer', '  loadBalancer:\n    simple: LEAST_REQUEST\n'),
  },
];

for (const row of TABLE) {
  test(`${row.feature} ${JSON.stringify(row.values)} writes its TrafficFilter`, () => {
    const plan = featureEdit(form(row.feature), SVC, FRAMED, row.values);
    assert.ok(plan.ok);
    assert.equal(plan.resources.length, 1, 'the frame exists: only the filter');
    assert.equal(stringify(plan.resources[0]), row.yaml);
  });
}

test('every form is in the table', () => {
  assert.deepEqual(new Set(FEATURE_FORMS.map((f) => f.feature)), new Set(TABLE.map((r) => r.feature)));
});

test('empty inputs write nothing and say what to fill in', () => {
  for (const f of FEATURE_FORMS) {
    const plan = featureEdit(f, SVC, FRAMED, Object.fromEntries(f.fields.map((x) => [x.name, '  '])));
    assert.equal(plan.ok, false, f.feature);
    assert.match(plan.ok ? '' : plan.message, /^fill in /);
  }
});

test('a route feature on a host without a VirtualService writes a plain one first', () => {
  const plan = featureEdit(form('timeout'), SVC, { destinationRule: DR }, { timeout: '1s' });
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.resources.map((r) => r.kind),
    ['VirtualService', 'TrafficFilter'],
  );
  assert.equal(
    stringify(plan.resources[0]),
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts:
    - reviews.shop.svc.cluster.local
  http:
    - name: default
      route:
        - destination:
            host: reviews.shop.svc.cluster.local
`,
  );
});

test('a traffic policy feature without a DestinationRule writes a plain one; a rate limit needs no frame', () => {
  const lb = featureEdit(form('loadBalancer'), SVC, { virtualService: VS }, { simple: 'RANDOM' });
  assert.ok(lb.ok);
  assert.deepEqual(
    lb.resources.map((r) => `${r.kind} ${JSON.stringify(r.spec.host ?? '')}`),
    ['DestinationRule "reviews.shop.svc.cluster.local"', 'TrafficFilter ""'],
  );
  const rl = featureEdit(form('rateLimit'), SVC, {}, { tokensPerFill: '5' });
  assert.ok(rl.ok);
  assert.deepEqual(
    rl.resources.map((r) => r.kind),
    ['TrafficFilter'],
  );
});

test('a service with a Router writes no frame: the Router makes them', () => {
  const router = {
    kind: 'Router',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: {},
  } as ResourceObject;
  const plan = featureEdit(form('timeout'), SVC, { router }, { timeout: '1s' });
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.resources.map((r) => r.kind),
    ['TrafficFilter'],
  );
});
