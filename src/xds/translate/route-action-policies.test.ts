// Istio's per-route policies as Envoy route fields: retries (RetryPolicy), fault injection
// (extensions.filters.http.fault.v3.HTTPFault), CORS (extensions.filters.http.cors.v3.CorsPolicy)
// and consistent-hash keys (RouteAction.HashPolicy), following Istio's translation
// (pilot/pkg/networking/core/route).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsistentHashLB, HTTPRoute, StringMatch } from '../../api/networking/types.js';
import type { MergedRoute } from './http-routes.js';
import {
  buildRoutes,
  corsPolicy,
  faultConfig,
  hashPolicy,
  retryPolicy,
  type RouteSite,
} from './route-action.js';
import type { Loose as Json } from './testkit.js';

const pct = (p: Json) => (p.numerator as number) / 10_000;

test('numeric retryOn entries become retriable_status_codes with the retriable-status-codes condition', () => {
  const r = retryPolicy({ attempts: 3, retryOn: 'connect-failure, 503 ,504' }, 'envoy') as Json;
  assert.equal(r.retry_on, 'connect-failure,retriable-status-codes');
  assert.deepEqual(r.retriable_status_codes, [503, 504]);
  assert.deepEqual(r.num_retries, { value: 3 });
  // Named conditions only: no status-code condition is added.
  const named = retryPolicy({ retryOn: 'gateway-error,reset' }, 'envoy') as Json;
  assert.equal(named.retry_on, 'gateway-error,reset');
  assert.equal(named.retriable_status_codes, undefined);
  // Written once even when the user also names it.
  const both = retryPolicy({ retryOn: 'retriable-status-codes,503' }, 'envoy') as Json;
  assert.equal(both.retry_on, 'retriable-status-codes');
  // Empty entries (a doubled or trailing comma) are no conditions.
  assert.equal((retryPolicy({ retryOn: '5xx,,reset,' }, 'envoy') as Json).retry_on, '5xx,reset');
  // Only three-digit entries are codes; anything else is passed on as a condition name.
  const odd = retryPolicy({ retryOn: '5xx,5030' }, 'envoy') as Json;
  assert.equal(odd.retry_on, '5xx,5030');
  assert.equal(odd.retriable_status_codes, undefined);
});

test('retry backoff and per-try timeout become Envoy durations; absent, they are left to Envoy', () => {
  const r = retryPolicy({ attempts: 2, perTryTimeout: '1.5s', backoff: '250ms' }, 'envoy') as Json;
  assert.deepEqual(r.per_try_timeout, { seconds: 1, nanos: 500_000_000 });
  assert.deepEqual(r.retry_back_off, { base_interval: { seconds: 0, nanos: 250_000_000 } });
  const plain = retryPolicy({ attempts: 2 }, 'envoy') as Json;
  assert.equal('per_try_timeout' in plain, false);
  assert.equal('retry_back_off' in plain, false);
});

test('retryIgnorePreviousHosts false drops the previous-hosts predicate; gRPC gets neither predicate nor host attempts', () => {
  const on = retryPolicy({ attempts: 1 }, 'envoy') as Json;
  assert.equal((on.retry_host_predicate as Json[])[0].name, 'envoy.retry_host_predicates.previous_hosts');
  assert.equal(on.host_selection_retry_max_attempts, 5);
  const off = retryPolicy({ attempts: 1, retryIgnorePreviousHosts: false }, 'envoy') as Json;
  assert.equal(off.retry_host_predicate, undefined);
  assert.equal(off.host_selection_retry_max_attempts, 5);
  const grpc = retryPolicy({ attempts: 1 }, 'grpc') as Json;
  assert.equal(grpc.retry_host_predicate, undefined);
  assert.equal(grpc.host_selection_retry_max_attempts, undefined);
});

test('fault abort by gRPC status maps the name to its code; unknown names fall back to UNKNOWN (2)', () => {
  const code = (grpcStatus: string): Json =>
    (faultConfig({ abort: { grpcStatus } }) as Json).abort.grpc_status;
  assert.equal(code('OK'), 0);
  assert.equal(code('unavailable'), 14);
  assert.equal(code('NOT_A_STATUS'), 2);
  const http = faultConfig({ abort: { httpStatus: 503, percentage: { value: 12.5 } } }) as Json;
  assert.equal(http.abort.http_status, 503);
  assert.equal(pct(http.abort.percentage), 12.5);
  assert.equal(http.abort.grpc_status, undefined);
});

test('a fault with neither an abort status nor a delay is no fault at all', () => {
  assert.equal(faultConfig({ abort: { percentage: { value: 50 } } }), undefined);
  assert.equal(faultConfig({}), undefined);
  assert.equal(faultConfig({ delay: { percentage: { value: 10 } } }), undefined);
  const delay = faultConfig({ delay: { fixedDelay: '2s', percent: 30 } }) as Json;
  assert.deepEqual(delay.delay.fixed_delay, { seconds: 2, nanos: 0 });
  assert.equal(pct(delay.delay.percentage), 30);
  assert.equal(delay.abort, undefined);
});

test('a route whose fault injects nothing carries no fault filter config', () => {
  const site: RouteSite = {
    port: 8080,
    gateways: ['mesh'],
    proxyNamespace: 'default',
    excluded: new Set(),
    flavor: 'envoy',
    domainSuffix: 'cluster.local',
    servicePorts: () => undefined,
    consistentHash: () => undefined,
  };
  const route: HTTPRoute = {
    route: [{ destination: { host: 'reviews' } }],
    fault: { abort: { percentage: { value: 50 } } },
  };
  const [r] = buildRoutes({ route, namespace: 'default', matches: undefined } satisfies MergedRoute, site);
  assert.equal((r as Json).typed_per_filter_config, undefined);
});

test('CORS: every field Istio sets maps to its Envoy field; unset ones stay unset', () => {
  const full = corsPolicy({
    allowOrigins: [{ exact: 'https://a.example' }, {} as StringMatch],
    allowOrigin: ['*', 'https://b.example'],
    allowMethods: ['GET', 'POST'],
    allowHeaders: ['x-a', 'x-b'],
    exposeHeaders: ['x-c', 'x-d'],
    maxAge: '90s',
    allowCredentials: false,
    unmatchedPreflights: 'IGNORE',
  });
  // `{}` (present) is no origin matcher; the deprecated `*` means any origin.
  assert.deepEqual(full.allow_origin_string_match, [
    { exact: 'https://a.example' },
    { prefix: '' },
    { exact: 'https://b.example' },
  ]);
  assert.equal(full.allow_methods, 'GET,POST');
  assert.equal(full.allow_headers, 'x-a,x-b');
  assert.equal(full.expose_headers, 'x-c,x-d');
  assert.equal(full.max_age, '90');
  assert.deepEqual(full.allow_credentials, { value: false });
  assert.deepEqual(full.forward_not_matching_preflights, { value: false });
  const bare = corsPolicy({ unmatchedPreflights: 'FORWARD' });
  assert.deepEqual(Object.keys(bare), ['filter_enabled']);
});

test('hash policy: each consistent-hash key becomes its Envoy hash policy', () => {
  assert.deepEqual(hashPolicy({ httpCookie: { name: 'user', path: '/app', ttl: '60s' } }), [
    { cookie: { name: 'user', path: '/app', ttl: { seconds: 60, nanos: 0 } } },
  ]);
  // Without a ttl Envoy only reads the cookie, never generates one.
  assert.deepEqual(hashPolicy({ httpCookie: { name: 'user' } }), [{ cookie: { name: 'user' } }]);
  assert.deepEqual(hashPolicy({ httpQueryParameterName: 'id' }), [{ query_parameter: { name: 'id' } }]);
  assert.deepEqual(hashPolicy({ useSourceIp: true }), [{ connection_properties: { source_ip: true } }]);
  assert.deepEqual(hashPolicy({ useSourceIp: false }), []);
  assert.deepEqual(hashPolicy({ ringHash: { minimumRingSize: 8 } }), []);
});

test('a weighted route hashes only when every destination agrees on the hash key', () => {
  const keys = new Map<string, ConsistentHashLB>([
    ['a.default.svc.cluster.local', { httpHeaderName: 'x-user' }],
    ['b.default.svc.cluster.local', { httpHeaderName: 'x-user' }],
    ['c.default.svc.cluster.local', { httpHeaderName: 'x-other' }],
  ]);
  const site: RouteSite = {
    port: 80,
    gateways: ['mesh'],
    proxyNamespace: 'default',
    excluded: new Set(),
    flavor: 'envoy',
    domainSuffix: 'cluster.local',
    servicePorts: () => undefined,
    consistentHash: (host) => keys.get(host),
  };
  const split = (...hosts: string[]): Json => {
    const route: HTTPRoute = { route: hosts.map((host) => ({ destination: { host }, weight: 50 })) };
    return (buildRoutes({ route, namespace: 'default', matches: undefined }, site)[0] as Json).route;
  };
  assert.deepEqual(split('a', 'b').hash_policy, [{ header: { header_name: 'x-user' } }]);
  assert.equal(split('a', 'c').hash_policy, undefined);
  assert.equal(split('c', 'a').hash_policy, undefined);
  assert.equal(split('a', 'd').hash_policy, undefined);
  assert.equal(split('d', 'a').hash_policy, undefined);
});

// Istio's retry.go: DefaultConsistentHashPolicy carries no previous-hosts predicate, so retries
// stay on the hashed host; retryIgnorePreviousHosts: true adds it back.
test('under consistent hashing a retry keeps to the hashed host unless told otherwise', () => {
  const predicate = (r: unknown) => ((r as Json).retry_host_predicate as Json[] | undefined)?.length ?? 0;
  assert.equal(predicate(retryPolicy(undefined, 'envoy', true)), 0);
  assert.equal(predicate(retryPolicy({ attempts: 2 }, 'envoy', true)), 0);
  assert.equal(predicate(retryPolicy({ attempts: 2, retryIgnorePreviousHosts: true }, 'envoy', true)), 1);
  assert.equal(predicate(retryPolicy(undefined, 'envoy', false)), 1);
});
