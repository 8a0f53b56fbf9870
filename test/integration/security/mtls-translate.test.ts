/**
 * PeerAuthentication and auto mTLS through the real control plane: Istio YAML applied to the
 * store, resources read over ADS by Envoy-like clients, as a sidecar beside `reviews` and as a
 * client sidecar (`productpage`) would get them. What a real proxy does with them is tested on
 * the proxy's side; here: what each one is told to accept and to send, and that malformed
 * policies are refused with their field path while the last good config keeps being served.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findKind, registerKind } from '../../../src/api/kinds.js';
import { SECURITY_KINDS } from '../../../src/api/security/kinds.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { TYPE, unpackAny, type AnyMessage } from '../../../src/protocol/protos.js';
import type { Loose } from '../../../src/xds/translate/testkit.js';
import { connectEnvoyLike, type EnvoyLikeClient } from '../helpers/envoy-like-client.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

// Until the security kinds are registered by the control plane itself.
for (const def of SECURITY_KINDS) if (findKind(def.kind) === undefined) registerKind(def);

let mesh: TestMesh;
let reviews: EnvoyLikeClient;
let productpage: EnvoyLikeClient;

const REVIEWS_CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';
const INBOUND = 'inbound|9080||';

before(async () => {
  mesh = await startMesh({ debounceMs: 10, meshMtls: true });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: 8080 }]
  endpoints:
  - address: 10.0.0.1
    labels: { app: reviews, security.istio.io/tlsMode: istio }
    serviceAccount: reviews
  - address: 10.0.0.2
    labels: { app: reviews }
`);
  reviews = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.0.0.1~reviews-1.default~default.svc.cluster.local',
    metadata: { LABELS: { app: 'reviews' }, INSTANCE_IPS: '10.0.0.1' },
  });
  productpage = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.1.0.1~productpage-1.default~default.svc.cluster.local',
    metadata: { LABELS: { app: 'productpage' } },
  });
});

after(async () => {
  reviews.close();
  productpage.close();
  await mesh.stop();
});

function resource(c: EnvoyLikeClient, type: string, name: string): Loose {
  return c.resources.get(type)?.get(name);
}

/** Each inbound chain as `transport[alpn]:mtls|plain`. */
function inboundShape(): string[] {
  const l = resource(reviews, TYPE.listener, INBOUND);
  assert.ok(l, 'the inbound listener');
  return (l.filter_chains as Loose[]).map((c: Loose): string => {
    const m: Loose = c.filter_chain_match;
    const alpn = ((m?.application_protocols ?? []) as string[]).join(',');
    const transport = String(m?.transport_protocol || '*');
    return `${transport}${alpn ? `[${alpn}]` : ''}:${c.transport_socket ? 'mtls' : 'plain'}`;
  });
}

function upstream(): string {
  const c = resource(productpage, TYPE.cluster, REVIEWS_CLUSTER);
  assert.ok(c, 'the reviews cluster');
  if ((c.transport_socket_matches ?? []).length > 0) return 'auto';
  return c.transport_socket ? 'tls' : 'plain';
}

const ALL_ISTIO = '[istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2]';

test('by default: PERMISSIVE inbound, auto mTLS outbound, sidecar endpoints marked in EDS', async () => {
  await eventually(() => assert.deepEqual(inboundShape(), [`tls${ALL_ISTIO}:mtls`, 'raw_buffer:plain']), {
    what: 'a PERMISSIVE inbound listener',
  });
  await eventually(() => assert.equal(upstream(), 'auto'), { what: 'auto mTLS on the reviews cluster' });
  const cluster = resource(productpage, TYPE.cluster, REVIEWS_CLUSTER);
  const istio: Loose = cluster.transport_socket_matches[0];
  const ctx: Loose = unpackAny(istio.transport_socket.typed_config as AnyMessage);
  assert.equal(ctx.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  const sans = ctx.common_tls_context.combined_validation_context.default_validation_context
    .match_subject_alt_names as { exact: string }[];
  assert.deepEqual(
    sans.map((s) => s.exact),
    ['spiffe://cluster.local/ns/default/sa/reviews'],
  );
  await eventually(() => {
    const cla = resource(productpage, TYPE.endpoint, REVIEWS_CLUSTER);
    assert.ok(cla);
    const marks = (cla.endpoints as Loose[]).flatMap((l: Loose) =>
      (l.lb_endpoints as Loose[]).map((e: Loose): string => {
        const md: Loose = e.metadata?.filter_metadata?.['envoy.transport_socket_match'];
        const mode = String(md?.fields?.tlsMode?.stringValue ?? '-');
        return `${String(e.endpoint.address.socket_address.address)}=${mode}`;
      }),
    );
    assert.deepEqual(marks.sort(), ['10.0.0.1=istio', '10.0.0.2=-']);
  }, 'EDS metadata');
});

test('STRICT mesh-wide: the workload accepts mTLS only; clients keep auto mTLS', async () => {
  mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
`);
  await eventually(() => assert.deepEqual(inboundShape(), ['tls:mtls']), {
    what: 'a STRICT inbound listener',
  });
  assert.equal(upstream(), 'auto');
});

test('a malformed policy is refused with its field path; the last good config stays', () => {
  const before = JSON.stringify(resource(reviews, TYPE.listener, INBOUND));
  assert.throws(
    () =>
      mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: bad, namespace: default }
spec:
  mtls: { mode: OFF }
  portLevelMtls: { "8080": { mode: DISABLE } }
`),
    (err: Error) => /spec\.mtls\.mode/.test(err.message) && /spec\.portLevelMtls/.test(err.message),
  );
  assert.equal(JSON.stringify(resource(reviews, TYPE.listener, INBOUND)), before);
  assert.equal(mesh.store.snapshot().get('PeerAuthentication', 'default', 'bad'), undefined);
});

test('a workload policy: DISABLE on the target port only, keyed by the workload port 8080', async () => {
  mesh.apply(`apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: reviews, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  portLevelMtls: { "8080": { mode: DISABLE } }
`);
  await eventually(() => assert.deepEqual(inboundShape(), ['*:plain']), { what: 'port 8080 in plaintext' });
  mesh.remove('PeerAuthentication', 'reviews');
  await eventually(() => assert.deepEqual(inboundShape(), ['tls:mtls']), { what: 'STRICT again' });
});

test('a DestinationRule DISABLE sends plaintext; the namespace DISABLE turns auto mTLS off', async () => {
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy: { tls: { mode: DISABLE } }
`);
  await eventually(() => assert.equal(upstream(), 'plain'), { what: 'the rule to apply' });
  mesh.remove('DestinationRule', 'reviews');
  await eventually(() => assert.equal(upstream(), 'auto'), { what: 'auto mTLS back' });
  mesh.apply(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec:
  mtls: { mode: DISABLE }
`);
  await eventually(() => assert.equal(upstream(), 'plain'), { what: 'plaintext to a DISABLE namespace' });
  await eventually(() => assert.deepEqual(inboundShape(), ['*:plain']), {
    what: 'a plaintext inbound listener',
  });
});
