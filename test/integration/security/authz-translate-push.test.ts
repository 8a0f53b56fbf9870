/**
 * A control plane serving security policies to Envoy-like ADS clients: RequestAuthentication
 * keys fetched from a JWKS server on 127.0.0.1 and inlined, rotated keys pushed at the next
 * refresh, and policies pushed only to the proxies they select.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { parseAndValidate } from '../../../src/api/parse.js';
import { validateResource } from '../../../src/api/validate.js';
import { formatProblem } from '../../../src/core/errors.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { TYPE, unpackAny, type AnyMessage } from '../../../src/protocol/protos.js';
import { REJECT_ALL_JWKS } from '../../../src/xds/translate/security/jwks-source.js';
import { connectEnvoyLike, type EnvoyLikeClient } from '../helpers/envoy-like-client.js';

const KEYS_V1 = JSON.stringify({ keys: [{ kty: 'EC', kid: 'v1', crv: 'P-256', x: 'x1', y: 'y1' }] });
const KEYS_V2 = JSON.stringify({ keys: [{ kty: 'EC', kid: 'v2', crv: 'P-256', x: 'x2', y: 'y2' }] });

let jwks = KEYS_V1;
let jwksServer: http.Server;
let jwksUrl: string;
let cp: ControlPlane;
let store: MemoryConfigStore;
let app: EnvoyLikeClient;
let other: EnvoyLikeClient;

function apply(yaml: string): void {
  for (const doc of parseAndValidate(yaml, 'test.yaml')) {
    const errors = doc.problems.filter((p) => p.severity === 'error');
    if (errors.length > 0 || !doc.resource) throw new Error(errors.map(formatProblem).join('; '));
    store.apply(doc.resource);
  }
}

const client = (ip: string, labels: Record<string, string>) =>
  connectEnvoyLike(cpPort, {
    id: `sidecar~${ip}~${labels.app}.default~default.svc.cluster.local`,
    metadata: { LABELS: labels, NAMESPACE: 'default' },
  });
let cpPort = 0;

before(async () => {
  jwksServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(jwks);
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  store = new MemoryConfigStore((r) => validateResource(r));
  cp = new ControlPlane({ config: store, debounce: { quietMs: 10, maxMs: 200 }, jwks: { refreshMs: 300 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  cpPort = bound.xds.port;
  apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app }
spec:
  hosts: [app.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1, labels: { app: app } }, { address: 10.0.0.2, labels: { app: other } }]
`);
  app = client('10.0.0.1', { app: 'app' });
  other = client('10.0.0.2', { app: 'other' });
});

after(async () => {
  app.close();
  other.close();
  await cp.stop();
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

/** The HTTP filters of a client's inbound listener, decoded (name -> config). */
function inboundFilters(c: EnvoyLikeClient): Map<string, Record<string, unknown>[]> {
  const l = c.resources.get(TYPE.listener)?.get('inbound|8080||') as
    { filter_chains: { filters: { typed_config: AnyMessage }[] }[] } | undefined;
  const out = new Map<string, Record<string, unknown>[]>();
  if (l === undefined) return out;
  const hcm = unpackAny<{ http_filters: { name: string; typed_config: AnyMessage }[] }>(
    l.filter_chains[0]!.filters[0]!.typed_config,
  );
  for (const f of hcm.http_filters) out.set(f.name, [...(out.get(f.name) ?? []), unpackAny(f.typed_config)]);
  return out;
}

function inlineKeys(c: EnvoyLikeClient): string | undefined {
  const jwt = inboundFilters(c).get('envoy.filters.http.jwt_authn')?.[0] as
    { providers: Record<string, { local_jwks: { inline_string: string } }> } | undefined;
  return jwt?.providers['origins-0']?.local_jwks.inline_string;
}

const ldsCount = (c: EnvoyLikeClient) => c.received.filter((r) => r.type === 'LDS').length;

test('a RequestAuthentication gets the keys the control plane fetched; a rotation is pushed at the next refresh', async () => {
  await eventually(() => inboundFilters(app).size > 0 && inboundFilters(other).size > 0, {
    what: 'inbound listeners',
  });
  apply(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  selector: { matchLabels: { app: app } }
  jwtRules: [{ issuer: https://id.example, jwksUri: "${jwksUrl}" }]
`);
  await eventually(() => assert.equal(inlineKeys(app), KEYS_V1), { what: 'the fetched keys inline' });
  jwks = KEYS_V2;
  await eventually(() => assert.equal(inlineKeys(app), KEYS_V2), { what: 'the rotated keys inline' });
  assert.equal(inlineKeys(other), undefined, 'a workload the policy does not select has no jwt_authn');
});

test('an unreachable jwksUri inlines keys that reject every token', async () => {
  apply(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  selector: { matchLabels: { app: app } }
  jwtRules: [{ issuer: https://id.example, jwksUri: "http://127.0.0.1:1/nothing-here" }]
`);
  await eventually(() => assert.equal(inlineKeys(app), REJECT_ALL_JWKS), { what: 'reject-all keys' });
});

test('a policy is pushed to the proxies it selects and to no other', async () => {
  const before = ldsCount(other);
  apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin }
spec:
  selector: { matchLabels: { app: app } }
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin] } }] }]
`);
  await eventually(() => assert.ok(inboundFilters(app).has('envoy.filters.http.rbac')), {
    what: 'RBAC at app',
  });
  // A later change that does select `other`: once it arrives, every earlier push to it has too.
  apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-other }
spec:
  selector: { matchLabels: { app: other } }
  action: DENY
  rules: [{ to: [{ operation: { paths: [/x] } }] }]
`);
  await eventually(() => assert.ok(inboundFilters(other).has('envoy.filters.http.rbac')), {
    what: 'RBAC at other',
  });
  assert.equal(ldsCount(other), before + 1, 'the first policy sent `other` nothing');
});

test('a malformed policy is refused with its field path and the last good one keeps serving', async () => {
  const bad = parseAndValidate(
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin }
spec:
  selector: { matchLabels: { app: app } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*x"] } }] }]
`,
    'bad.yaml',
  );
  assert.deepEqual(
    bad.flatMap((d) => d.problems.filter((p) => p.severity === 'error').map((p) => p.path)),
    ['spec.rules[0].to[0].operation.paths[0]'],
  );
  assert.equal(bad[0]?.resource, undefined);
  const rbac = inboundFilters(app).get('envoy.filters.http.rbac');
  assert.ok(JSON.stringify(rbac).includes('deny-admin'));
});

test('the control plane lists what a policy does differently from what it says', async () => {
  apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext }
spec:
  selector: { matchLabels: { app: app } }
  action: CUSTOM
  provider: { name: opa }
  rules: [{ to: [{ operation: { paths: [/x] } }] }]
`);
  await eventually(
    () => {
      const w = cp.warnings
        .list()
        .find((x) => x.source.kind === 'AuthorizationPolicy' && x.source.name === 'ext');
      assert.ok(w, 'a warning for the CUSTOM policy');
      assert.equal(w.problems[0]?.path, 'spec.provider.name');
      assert.match(w.problems[0]?.message ?? '', /no extension provider "opa".*denied/);
    },
    { what: 'the CUSTOM warning' },
  );
});

test('a control plane starting with a RequestAuthentication serves the fetched keys from its first push', async () => {
  const s = new MemoryConfigStore((r) => validateResource(r));
  for (const doc of parseAndValidate(
    `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  jwtRules: [{ issuer: https://id.example, jwksUri: "${jwksUrl}" }]
`,
    'ra.yaml',
  ))
    if (doc.resource) s.apply(doc.resource);
  const fresh = new ControlPlane({ config: s, debounce: { quietMs: 10, maxMs: 200 } });
  try {
    await fresh.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
    assert.equal(fresh.ads.current.security.jwks.get(jwksUrl), jwks);
  } finally {
    await fresh.stop();
  }
});

test('extensionProviders given to the control plane reach CUSTOM policies as ext_authz', async () => {
  const s = new MemoryConfigStore((r) => validateResource(r));
  const docs = parseAndValidate(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app }
spec:
  hosts: [app.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1, labels: { app: app } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: opa }
spec:
  hosts: [opa.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9191, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 10.0.0.9 }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext }
spec:
  action: CUSTOM
  provider: { name: opa }
  rules: [{ to: [{ operation: { paths: [/admin*] } }] }]
`,
    'custom.yaml',
  );
  for (const doc of docs) if (doc.resource) s.apply(doc.resource);
  const fresh = new ControlPlane({
    config: s,
    debounce: { quietMs: 10, maxMs: 200 },
    extensionProviders: [
      { name: 'opa', kind: 'grpc', grpc: { service: 'opa.default.svc.cluster.local', port: 9191 } },
    ],
  });
  const bound = await fresh.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const c = connectEnvoyLike(bound.xds.port, {
    id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local',
    metadata: { LABELS: { app: 'app' }, NAMESPACE: 'default' },
  });
  try {
    await eventually(
      () => {
        const ext = inboundFilters(c).get('envoy.filters.http.ext_authz')?.[0] as
          { grpc_service?: { envoy_grpc?: { cluster_name?: string } } } | undefined;
        assert.equal(
          ext?.grpc_service?.envoy_grpc?.cluster_name,
          'outbound|9191||opa.default.svc.cluster.local',
        );
      },
      { what: 'ext_authz at the sidecar' },
    );
    assert.deepEqual(fresh.warnings.list(), []);
  } finally {
    c.close();
    await fresh.stop();
  }
});
