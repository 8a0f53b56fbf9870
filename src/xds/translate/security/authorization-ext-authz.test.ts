import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthzExtensionProvider } from '../../../api/security/extension-providers.js';
import type { Resource } from '../../../api/resource.js';
import { CONVERSION, messageType, TYPE } from '../../../protocol/protos.js';
import { validateRules } from '../../../protocol/validate-rules.js';
import { buildPushContext, generate, generatorKey, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
  type Loose,
} from '../testkit.js';
import { resolveProvider } from './authorization-ext-authz.js';

const APP = 'app.default.svc.cluster.local';
const OPA = 'opa.authz.svc.cluster.local';
const OAUTH = 'oauth.authz.svc.cluster.local';
const SIDECAR = proxy({ labels: { app: 'app' }, ipAddresses: ['10.0.0.1'] });

const PROVIDERS: AuthzExtensionProvider[] = [
  { name: 'opa', kind: 'grpc', grpc: { service: OPA, port: 9191, failOpen: true } },
  {
    name: 'oauth',
    kind: 'http',
    http: {
      service: `authz/${OAUTH}`,
      port: 4180,
      pathPrefix: '/check',
      timeoutMs: 2000,
      statusOnError: 503,
      includeRequestHeadersInCheck: ['cookie', 'x-*'],
      includeAdditionalHeadersInCheck: { 'x-b': '2', 'x-a': '1' },
      headersToUpstreamOnAllow: ['x-user'],
      headersToDownstreamOnDeny: ['set-cookie'],
      includeRequestBodyInCheck: { maxRequestBytes: 512 },
    },
  },
  { name: 'ghost', kind: 'grpc', grpc: { service: 'missing.svc', port: 1 } },
];

function push(
  resources: Resource[],
  services = [service(OPA, [grpc(9191)]), service(OAUTH, [http(4180)])],
): PushContext {
  return buildPushContext(
    config(resources),
    registry([service(APP, [http(8080), tcp(5432)]), ...services], [endpoint(APP, '10.0.0.1')]),
    { security: { extensionProviders: PROVIDERS } },
  );
}

const custom = (name: string, provider: string, spec: object = {}) =>
  res('AuthorizationPolicy', 'default', name, {
    action: 'CUSTOM',
    provider: { name: provider },
    rules: [{ to: [{ operation: { paths: ['/admin'] } }] }],
    ...spec,
  });

const decode = (any: Loose): Loose => {
  const t = messageType(String(any.type_url));
  return t.toObject(t.decode((any.value as Uint8Array | undefined) ?? new Uint8Array(0)), {
    ...CONVERSION,
    oneofs: false,
  });
};

function chain(p: PushContext, listener: string): { name: string; config: Loose }[] {
  const out = generate(p, SIDECAR, TYPE.listener);
  checkEncodes(TYPE.listener, out);
  const filters = (out.get(listener) as Loose).filter_chains[0].filters as Loose[];
  const list: Loose[] =
    filters[0].name === 'envoy.filters.network.http_connection_manager'
      ? decode(filters[0].typed_config).http_filters
      : filters;
  return list.map((f: Loose) => ({ name: String(f.name), config: decode(f.typed_config) }));
}

test('gRPC provider: ext_authz over envoy_grpc to the provider cluster, enabled by the shadow RBAC mark', () => {
  const r = resolveProvider(push([]), 'opa');
  assert.ok(r.ok);
  assert.deepEqual(r.http, {
    transport_api_version: 'V3',
    filter_enabled_metadata: {
      filter: 'envoy.filters.http.rbac',
      path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }],
      value: { string_match: { prefix: 'istio-ext-authz-opa' } },
    },
    failure_mode_allow: true,
    grpc_service: {
      envoy_grpc: { cluster_name: `outbound|9191||${OPA}`, authority: OPA },
      timeout: { seconds: 0, nanos: 600_000_000 },
    },
  });
  assert.equal(r.tcp?.stat_prefix, 'tcp.');
  assert.equal(r.tcp?.filter_enabled_metadata?.filter, 'envoy.filters.network.rbac');
  assert.deepEqual(validateRules(TYPE.extAuthz, r.http), []);
  assert.deepEqual(validateRules(TYPE.networkExtAuthz, r.tcp as object), []);
});

test('HTTP provider: http_service with path prefix, headers in and out, body, status on error', () => {
  const r = resolveProvider(push([]), 'oauth');
  assert.ok(r.ok);
  assert.equal(r.tcp, undefined, 'no TCP filter for an HTTP provider');
  const h = r.http as Loose;
  assert.deepEqual(h.http_service, {
    server_uri: {
      uri: `http://${OAUTH}`,
      cluster: `outbound|4180||${OAUTH}`,
      timeout: { seconds: 2, nanos: 0 },
    },
    path_prefix: '/check',
    authorization_request: {
      headers_to_add: [
        { key: 'x-a', value: '1' },
        { key: 'x-b', value: '2' },
      ],
    },
    authorization_response: {
      allowed_upstream_headers: { patterns: [{ exact: 'x-user', ignore_case: true }] },
      allowed_client_headers: { patterns: [{ exact: 'set-cookie', ignore_case: true }] },
    },
  });
  assert.deepEqual(h.allowed_headers, {
    patterns: [
      { exact: 'cookie', ignore_case: true },
      { prefix: 'x-', ignore_case: true },
    ],
  });
  assert.deepEqual(h.status_on_error, { code: 503 });
  assert.deepEqual(h.with_request_body, { max_request_bytes: 512 });
  assert.deepEqual(validateRules(TYPE.extAuthz, h as object), []);
});

test('unusable providers say why', () => {
  const p = push([]);
  const missing = resolveProvider(p, 'nope');
  assert.ok(!missing.ok && /no extension provider "nope"; available: opa, oauth, ghost/.test(missing.error));
  const ghost = resolveProvider(p, 'ghost');
  assert.ok(!ghost.ok && /could not find service missing.svc/.test(ghost.error));
  const wrongNs = resolveProvider(push([], [service(OAUTH, [http(4180)], { namespace: 'other' })]), 'oauth');
  assert.ok(!wrongNs.ok);
});

test('inbound HTTP: shadow RBAC and ext_authz first, before jwt_authn and the local RBAC filters', () => {
  const fs = chain(
    push([
      custom('ext', 'opa'),
      res('RequestAuthentication', 'default', 'jwt', { jwtRules: [{ issuer: 'i', jwks: '{"keys":[]}' }] }),
      res('AuthorizationPolicy', 'default', 'deny', { action: 'DENY', rules: [{}] }),
    ]),
    'inbound|8080||',
  );
  assert.deepEqual(
    fs.map((f) => f.name),
    [
      'envoy.filters.http.rbac',
      'envoy.filters.http.ext_authz',
      'envoy.filters.http.jwt_authn',
      'envoy.filters.http.rbac',
      'envoy.filters.http.fault',
      'envoy.filters.http.cors',
      'envoy.filters.http.router',
    ],
  );
  const shadow = fs[0]?.config;
  assert.equal(shadow.rules, undefined, 'never enforced');
  assert.equal(shadow.shadow_rules_stat_prefix, 'istio_ext_authz_');
  assert.equal(shadow.shadow_rules.action, 'DENY');
  assert.deepEqual(Object.keys(shadow.shadow_rules.policies), [
    'istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]',
  ]);
});

test('inbound TCP: a gRPC provider checks connections; an HTTP provider does not apply there', () => {
  const withGrpc = chain(push([custom('ext', 'opa')]), 'inbound|5432||');
  assert.deepEqual(
    withGrpc.map((f) => f.name),
    ['envoy.filters.network.rbac', 'envoy.filters.network.ext_authz', 'envoy.filters.network.tcp_proxy'],
  );
  const withHttp = chain(push([custom('ext', 'oauth')]), 'inbound|5432||');
  assert.deepEqual(
    withHttp.map((f) => f.name),
    ['envoy.filters.network.tcp_proxy'],
  );
});

test('an unusable provider, or two providers on one workload: what the CUSTOM policies select is denied', () => {
  for (const policies of [[custom('ext', 'ghost')], [custom('a', 'opa'), custom('b', 'oauth')]]) {
    const fs = chain(push(policies), 'inbound|8080||');
    assert.equal(fs[0]?.name, 'envoy.filters.http.rbac');
    assert.equal(fs[0]?.config.rules.action, 'DENY');
    assert.ok(
      Object.keys(fs[0]?.config.rules.policies).every((k) => k.endsWith('-deny-due-to-bad-CUSTOM-action')),
    );
    assert.ok(!fs.some((f) => f.name === 'envoy.filters.http.ext_authz'));
  }
});

test("the provider's service appearing in the registry moves the LDS key of proxies with CUSTOM policies", () => {
  const before = push([custom('ext', 'opa')], []);
  const after = push([custom('ext', 'opa')]);
  assert.notEqual(generatorKey(before, SIDECAR, TYPE.listener), generatorKey(after, SIDECAR, TYPE.listener));
  assert.equal(chain(before, 'inbound|8080||')[0]?.config.rules.action, 'DENY');
  assert.equal(chain(after, 'inbound|8080||')[1]?.name, 'envoy.filters.http.ext_authz');
});
