/**
 * Retry budgets and the gRPC default retry conditions, as translation emits them: what a proxy
 * is told for a cluster and a route when the user sets nothing, sets the DestinationRule
 * annotation, or sets Istio's own maxRetries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DestinationRuleSpec } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import { TYPE } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import {
  checkEncodes,
  config,
  grpc,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from './testkit.js';
import { DEFAULT_GRPC_RETRY_ON, DEFAULT_RETRY_ON } from './route-action.js';

const HOST = 'reviews.default.svc.cluster.local';

function annotated<S>(r: Resource<S>, annotations: Record<string, string>): Resource<S> {
  return { ...r, metadata: { ...r.metadata, annotations } };
}

function generated(
  rule: DestinationRuleSpec | undefined,
  annotations: Record<string, string> = {},
  type: 'sidecar' | 'grpc' = 'sidecar',
  ports = [http(9080)],
) {
  const resources = rule ? [annotated(res('DestinationRule', 'default', 'reviews', rule), annotations)] : [];
  const push = buildPushContext(config(resources), registry([service(HOST, ports)]));
  const p = proxy({ type, ipAddresses: ['10.9.9.9'] });
  const clusters = generate(push, p, TYPE.cluster);
  checkEncodes(TYPE.cluster, clusters);
  return { clusters, routes: generate(push, p, TYPE.route), push, p };
}

function budgetOf(rule: DestinationRuleSpec | undefined, annotations?: Record<string, string>, subset = '') {
  const c = generated(rule, annotations).clusters.get(`outbound|9080|${subset}|${HOST}`) as
    Record<string, Loose> | undefined;
  assert.ok(c, `cluster for subset ${JSON.stringify(subset)}`);
  const t = (c.circuit_breakers.thresholds as Loose[])[0]!;
  return { budget: t.retry_budget, maxRetries: t.max_retries.value };
}

const rule: DestinationRuleSpec = { host: HOST, subsets: [{ name: 'v1', labels: { version: 'v1' } }] };
const budget = (percent: number, min: number) => ({
  budget_percent: { value: percent },
  min_retry_concurrency: { value: min },
});

test('retry budget per cluster: the default, the annotation, off, and Istio maxRetries', () => {
  const rows: { what: string; rule?: DestinationRuleSpec; ann?: Record<string, string>; budget: unknown }[] =
    [
      { what: 'no DestinationRule: the default 20% / 3', budget: budget(20, 3) },
      { what: 'a rule without the annotation: the default', rule, budget: budget(20, 3) },
      {
        what: 'the annotation sets both numbers',
        rule,
        ann: { 'trellis.io/retry-budget': '{"budgetPercent": 10, "minRetryConcurrency": 1}' },
        budget: budget(10, 1),
      },
      {
        what: 'the annotation sets one: Envoy default for the other',
        rule,
        ann: { 'trellis.io/retry-budget': '{"budgetPercent": 50}' },
        budget: budget(50, 3),
      },
      { what: 'off: no budget', rule, ann: { 'trellis.io/retry-budget': 'off' }, budget: undefined },
      {
        what: 'maxRetries without the annotation: the explicit cap, no budget',
        rule: { ...rule, trafficPolicy: { connectionPool: { http: { maxRetries: 5 } } } },
        budget: undefined,
      },
      {
        what: 'maxRetries and the annotation: the budget (it replaces max_retries in Envoy)',
        rule: { ...rule, trafficPolicy: { connectionPool: { http: { maxRetries: 5 } } } },
        ann: { 'trellis.io/retry-budget': '{"budgetPercent": 30}' },
        budget: budget(30, 3),
      },
    ];
  for (const row of rows) {
    assert.deepEqual(budgetOf(row.rule, row.ann).budget, row.budget, row.what);
    // Subset clusters follow the same rule.
    if (row.rule)
      assert.deepEqual(budgetOf(row.rule, row.ann, 'v1').budget, row.budget, `${row.what} (subset)`);
  }
  assert.equal(
    budgetOf({ ...rule, trafficPolicy: { connectionPool: { http: { maxRetries: 5 } } } }).maxRetries,
    5,
  );
});

test('a changed retry budget annotation changes the clusters a proxy is sent', () => {
  const before = generated(rule, { 'trellis.io/retry-budget': '{"budgetPercent": 10}' }).clusters;
  const after = generated(rule, { 'trellis.io/retry-budget': '{"budgetPercent": 40}' }).clusters;
  const pct = (m: ReadonlyMap<string, object>): unknown =>
    ((m.get(`outbound|9080||${HOST}`) as Loose).circuit_breakers.thresholds as Loose[])[0]!.retry_budget;
  assert.deepEqual(pct(before), budget(10, 3));
  assert.deepEqual(pct(after), budget(40, 3));
});

test('proxyless gRPC clusters get no retry budget (gRFC A32 reads max_requests only)', () => {
  const c = generated(rule, {}, 'grpc', [grpc(9080)]).clusters.get(`outbound|9080||${HOST}`) as Loose;
  assert.equal(c.circuit_breakers, undefined);
  const limited = generated(
    { ...rule, trafficPolicy: { connectionPool: { http: { http2MaxRequests: 9 } } } },
    { 'trellis.io/retry-budget': '{"budgetPercent": 10}' },
    'grpc',
    [grpc(9080)],
  ).clusters.get(`outbound|9080||${HOST}`) as Loose;
  assert.deepEqual(limited.circuit_breakers, {
    thresholds: [{ priority: 'DEFAULT', max_requests: { value: 9 } }],
  });
});

function defaultRetryOn(
  ports: ReturnType<typeof http>[],
  withVs: boolean,
  type: 'sidecar' | 'grpc' = 'sidecar',
) {
  const resources = withVs
    ? [
        res('VirtualService', 'default', 'vs', {
          hosts: ['reviews'],
          http: [{ route: [{ destination: { host: 'reviews' } }] }],
        }),
      ]
    : [];
  const push = buildPushContext(config(resources), registry([service(HOST, ports)]));
  const routes = generate(push, proxy({ type, ipAddresses: ['10.9.9.9'] }), TYPE.route);
  if (type === 'grpc') assert.deepEqual(grpcClientErrors(TYPE.route, routes), []);
  const all = [...routes.values()].flatMap((rc): Record<string, Loose>[] =>
    ((rc as Loose).virtual_hosts as Record<string, Loose>[]).filter(
      (v) => String(v.name).startsWith(HOST) || (v.domains as string[]).includes(HOST),
    ),
  );
  assert.ok(all.length > 0, 'a virtual host for the service');
  const policy = (all[0]!.routes as Loose[])[0]!.route.retry_policy;
  return { on: policy.retry_on, codes: policy.retriable_status_codes };
}

test('gRPC destinations retry only what never reached the app by default; HTTP keeps Istio default', () => {
  for (const withVs of [false, true]) {
    assert.deepEqual(defaultRetryOn([grpc(9080)], withVs), { on: DEFAULT_GRPC_RETRY_ON, codes: undefined });
    assert.deepEqual(defaultRetryOn([http(9080)], withVs), { on: DEFAULT_RETRY_ON, codes: [503] });
  }
  // Proxyless gRPC clients get it too, and accept it.
  assert.deepEqual(defaultRetryOn([grpc(9080)], true, 'grpc'), {
    on: DEFAULT_GRPC_RETRY_ON,
    codes: undefined,
  });
  assert.equal(DEFAULT_GRPC_RETRY_ON, 'connect-failure,refused-stream');
  assert.doesNotMatch(DEFAULT_GRPC_RETRY_ON, /unavailable|cancelled|5xx|retriable-status-codes/);
});

test('a user retryOn on a gRPC route is kept as written', () => {
  const resources = [
    res('VirtualService', 'default', 'vs', {
      hosts: ['reviews'],
      http: [
        { route: [{ destination: { host: 'reviews' } }], retries: { attempts: 3, retryOn: 'unavailable' } },
      ],
    }),
  ];
  const push = buildPushContext(config(resources), registry([service(HOST, [grpc(9080)])]));
  const rc = generate(push, proxy({ type: 'sidecar', ipAddresses: ['10.9.9.9'] }), TYPE.route).get(
    '9080',
  ) as Loose;
  const vh = (rc.virtual_hosts as Loose[]).find((v) => v.name === `${HOST}:9080`)!;
  assert.equal((vh.routes as Loose[])[0]!.route.retry_policy.retry_on, 'unavailable');
});
