/**
 * The security seams of xDS-enabled gRPC servers, live: RBAC (gRFC A41) from the
 * envoy.filters.http.rbac filters Istio emits for AuthorizationPolicy, handed to the server
 * Listener through ServerListenerInputs.authzFilters and enforced by grpc-js-xds with its
 * experimental switch, and the port's mTLS mode through ServerListenerInputs.mtlsModeFor,
 * changed under running servers. The filters are written by hand in the shapes Istio's
 * translation produces; the seams are fed from maps by a wrapping translator.
 */
import '../helpers/grpc-rbac-switch.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { HttpFilter, RbacConfig } from '../../../src/protocol/envoy-types.js';
import { packAny, TYPE } from '../../../src/protocol/protos.js';
import { pack } from '../../../src/xds/translate/envoy.js';
import { affectedTypes, generate } from '../../../src/xds/translate/index.js';
import { serverListeners } from '../../../src/xds/translate/proxyless/server-listeners.js';
import type { MtlsMode } from '../../../src/xds/translate/proxyless/tls-mode.js';
import { grpcBootstrap, startMesh, type TestMesh } from '../helpers/mesh.js';
import { nacksOf, nodeId, serviceAt } from '../helpers/proxyless.js';
import { writeWorkloadCerts, type WorkloadCerts } from '../helpers/workload-certs.js';
import {
  callPath,
  ECHO_CALL,
  ECHO_OTHER,
  freePort,
  startXdsEchoServer,
  type XdsEchoServer,
} from '../helpers/xds-echo-server.js';

/** What the security translation would decide, per server port (set before a server starts). */
const filtersByPort = new Map<number, HttpFilter[]>();
const modeByPort = new Map<number, MtlsMode>();

let mesh: TestMesh;
let dir: string;
let ca: CertificateAuthority;
const certs: Record<'server' | 'client' | 'intruder', WorkloadCerts> = {} as never;
const servers: XdsEchoServer[] = [];
const clients: grpc.Client[] = [];

before(async () => {
  mesh = await startMesh({
    translator: {
      // The seam's maps are not in the keys: every push re-sends gRPC proxies their Listeners
      // (unchanged sets are not sent again), so a change to the maps lands with the next push.
      affectedTypes: (prev, next, proxy) =>
        proxy.type === 'grpc'
          ? new Set([...affectedTypes(prev, next, proxy), TYPE.listener])
          : affectedTypes(prev, next, proxy),
      // The real translation, with the server Listeners built through the seam from the maps.
      generate: (push, proxy, typeUrl, names) => {
        const out = generate(push, proxy, typeUrl, names);
        if (typeUrl !== TYPE.listener || proxy.type !== 'grpc') return out;
        const inputs = {
          mtlsModeFor: (port: number) => modeByPort.get(port) ?? 'PERMISSIVE',
          authzFilters: (port: number) => filtersByPort.get(port) ?? [],
        };
        return new Map([...out, ...serverListeners(push, proxy, names, inputs)]);
      },
    },
  });
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-proxyless-rbac-'));
  ca = await CertificateAuthority.create();
  for (const sa of ['server', 'client', 'intruder'] as const)
    certs[sa] = await writeWorkloadCerts(ca, path.join(dir, sa), {
      namespace: 'default',
      serviceAccount: sa,
    });
});

after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  await mesh.stop();
  await rm(dir, { recursive: true, force: true });
});

function rbac(name: string, rules: RbacConfig): HttpFilter {
  return { name, typed_config: pack(TYPE.rbac, { rules }) };
}

const CLIENT = 'spiffe://cluster.local/ns/default/sa/client';

/** Istio: `to: [{ operation: { paths: [PATH] } }]`, action DENY. */
const denyPath = (p: string) =>
  rbac('envoy.filters.http.rbac', {
    action: 'DENY',
    policies: {
      'ns[default]-policy[deny-call]-rule[0]': {
        permissions: [
          { and_rules: { rules: [{ or_rules: { rules: [{ url_path: { path: { exact: p } } }] } }] } },
        ],
        principals: [{ and_ids: { ids: [{ any: true }] } }],
      },
    },
  });

/** Istio: `from: [{ source: { principals: [cluster.local/ns/default/sa/client] } }]`, action ALLOW. */
const allowClient = rbac('envoy.filters.http.rbac', {
  action: 'ALLOW',
  policies: {
    'ns[default]-policy[allow-client]-rule[0]': {
      permissions: [{ and_rules: { rules: [{ any: true }] } }],
      principals: [
        {
          and_ids: { ids: [{ or_ids: { ids: [{ authenticated: { principal_name: { exact: CLIENT } } }] } }] },
        },
      ],
    },
  },
});

/** Istio: an ALLOW policy with no rules: nothing matches, so everything is denied. */
const allowNothing = rbac('envoy.filters.http.rbac', { action: 'ALLOW', policies: {} });

/** Istio: `when: [{ key: request.headers[x-user], values: [mallory] }]`, action DENY. */
const denyHeader = rbac('envoy.filters.http.rbac', {
  action: 'DENY',
  policies: {
    'ns[default]-policy[deny-mallory]-rule[0]': {
      permissions: [{ and_rules: { rules: [{ any: true }] } }],
      principals: [
        {
          and_ids: {
            ids: [{ or_ids: { ids: [{ header: { name: 'x-user', string_match: { exact: 'mallory' } } }] } }],
          },
        },
      ],
    },
  },
});

/** A server for `name` whose Listener gets `filters` and `mode`, registered at a fresh port. */
async function serve(
  name: string,
  filters: HttpFilter[],
  mode: MtlsMode = 'PERMISSIVE',
): Promise<XdsEchoServer> {
  const port = await freePort();
  filtersByPort.set(port, filters);
  modeByPort.set(port, mode);
  mesh.apply(serviceAt(name, port));
  const s = await startXdsEchoServer({
    name,
    port,
    bootstrap: grpcBootstrap(
      mesh.xdsPort,
      nodeId(`${name}-1`),
      { app: name },
      { instanceIps: '127.0.0.1', certDir: certs.server.dir },
    ),
  });
  servers.push(s);
  assert.deepEqual(await nacksOf(mesh, nodeId(`${name}-1`)), [], 'the server ACKed its Listener');
  return s;
}

function direct(s: XdsEchoServer, creds = grpc.credentials.createInsecure()): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${s.port}`, creds);
  clients.push(c);
  return c;
}

async function mtls(from: WorkloadCerts): Promise<grpc.ChannelCredentials> {
  const read = (f: string) => readFile(path.join(from.dir, f));
  return grpc.credentials.createSsl(
    await read('root-cert.pem'),
    await read('key.pem'),
    await read('cert-chain.pem'),
    {
      checkServerIdentity: () => undefined,
    },
  );
}

test('a DENY on a method path: PERMISSION_DENIED for it, other methods pass, and no spelling of it gets through', async () => {
  const s = await serve('deny-path', [denyPath(ECHO_CALL)]);
  const c = direct(s);
  const denied = await callPath(c, ECHO_CALL);
  assert.equal(denied.code, grpc.status.PERMISSION_DENIED, JSON.stringify(denied));
  assert.equal((await callPath(c, ECHO_OTHER)).backend, 'deny-path');
  const handled = s.paths.length;
  for (const variant of [
    '/trellis.test.Echo/Call/',
    '//trellis.test.Echo/Call',
    '/trellis.test.Echo//Call',
    '/trellis.test.Echo/call',
    '/Trellis.test.Echo/Call',
    '/trellis.test.Echo/%43all',
    '/trellis.test.Echo/./Call',
    '/trellis.test.Echo/Other/../Call',
    '/trellis.test.Echo/Call?x=1',
    '/trellis.test.Echo/Call#x',
  ]) {
    const r = await callPath(c, variant);
    assert.notEqual(r.code, grpc.status.OK, `${variant}: ${JSON.stringify(r)}`);
  }
  assert.equal(s.paths.length, handled, `no variant reached a handler: ${s.paths.slice(handled).join(', ')}`);
});

test('an ALLOW by principal on an mTLS server: the client is let in, another mesh identity is not', async () => {
  const s = await serve('allow-client', [allowClient], 'STRICT');
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: allow-client }
spec:
  host: allow-client.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
`);
  // Through Trellis, as the client workload.
  const viaMesh = new grpc.Client(
    'xds:///allow-client.default.svc.cluster.local:50051',
    new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()),
    {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(
        mesh.xdsPort,
        nodeId('client-1'),
        {},
        { certDir: certs.client.dir },
      ),
    },
  );
  clients.push(viaMesh);
  await eventually(
    async () => (await callPath(viaMesh, ECHO_CALL)).backend === 'allow-client',
    'the client allowed',
  );
  assert.equal(s.peers.at(-1), CLIENT);
  const intruder = direct(s, await mtls(certs.intruder));
  const r = await callPath(intruder, ECHO_CALL, { 'x-forwarded-client-cert': `By=x;URI=${CLIENT}` });
  assert.equal(r.code, grpc.status.PERMISSION_DENIED, JSON.stringify(r));
  assert.equal((await callPath(direct(s, await mtls(certs.client)), ECHO_OTHER)).backend, 'allow-client');
});

test('DENY is checked before ALLOW: the allowed principal is still denied the denied path', async () => {
  const s = await serve('deny-then-allow', [denyPath(ECHO_OTHER), allowClient], 'STRICT');
  const c = direct(s, await mtls(certs.client));
  assert.equal((await callPath(c, ECHO_CALL)).backend, 'deny-then-allow');
  assert.equal((await callPath(c, ECHO_OTHER)).code, grpc.status.PERMISSION_DENIED);
});

test('an ALLOW by principal on a plaintext port lets nobody in, whatever the caller claims', async () => {
  const s = await serve('allow-plain', [allowClient]);
  const c = direct(s);
  const claims: Record<string, string>[] = [
    {},
    { 'x-forwarded-client-cert': `URI=${CLIENT}` },
    { 'x-spiffe-id': CLIENT },
  ];
  for (const headers of claims) {
    const r = await callPath(c, ECHO_CALL, headers);
    assert.equal(r.code, grpc.status.PERMISSION_DENIED, JSON.stringify({ headers, r }));
  }
  assert.equal(s.paths.length, 0);
});

test('an ALLOW policy with no rules denies everything', async () => {
  const s = await serve('allow-nothing', [allowNothing], 'STRICT');
  const c = direct(s, await mtls(certs.client));
  for (const p of [ECHO_CALL, ECHO_OTHER])
    assert.equal((await callPath(c, p)).code, grpc.status.PERMISSION_DENIED, p);
  assert.equal(s.paths.length, 0);
});

test('a DENY on a request header value', async () => {
  const s = await serve('deny-header', [denyHeader]);
  const c = direct(s);
  assert.equal((await callPath(c, ECHO_CALL, { 'x-user': 'mallory' })).code, grpc.status.PERMISSION_DENIED);
  assert.equal((await callPath(c, ECHO_CALL, { 'x-user': 'alice' })).backend, 'deny-header');
  assert.equal((await callPath(c, ECHO_CALL)).backend, 'deny-header');
});

test('a DENY gRPC cannot fully read (a path template) still denies: more, never less', async () => {
  const template = rbac('envoy.filters.http.rbac', {
    action: 'DENY',
    policies: {
      'ns[default]-policy[deny-template]-rule[0]': {
        permissions: [
          {
            uri_template: {
              name: 'uri-template',
              typed_config: packAny(TYPE.uriTemplateMatch, { path_template: '/trellis.test.Echo/{*}' }),
            },
          },
        ],
        principals: [{ header: { name: 'x-user', string_match: { exact: 'mallory' } } }],
      },
    },
  });
  const s = await serve('deny-template', [template]);
  const c = direct(s);
  for (const p of [ECHO_CALL, ECHO_OTHER])
    assert.equal((await callPath(c, p, { 'x-user': 'mallory' })).code, grpc.status.PERMISSION_DENIED, p);
  assert.equal((await callPath(c, ECHO_CALL, { 'x-user': 'alice' })).backend, 'deny-template');
});

/** Any config change, so the control plane pushes (with the seam maps as they are now). */
let pokes = 0;
function push(): void {
  pokes++;
  mesh.apply(serviceAt(`poke-${pokes}`, 1));
}

test('a running server takes a new policy and new modes from its next Listener, without a restart', async () => {
  const s = await serve('live', []);
  const plain = direct(s);
  assert.equal((await callPath(plain, ECHO_CALL)).backend, 'live');
  filtersByPort.set(s.port, [denyPath(ECHO_CALL)]);
  push();
  await eventually(
    async () => (await callPath(plain, ECHO_CALL)).code === grpc.status.PERMISSION_DENIED,
    'the DENY applied',
  );
  assert.equal((await callPath(plain, ECHO_OTHER)).backend, 'live');
  // PERMISSIVE -> STRICT: plaintext is refused from then on, mTLS is served, the DENY stays.
  modeByPort.set(s.port, 'STRICT');
  push();
  await eventually(
    async () => (await callPath(direct(s), ECHO_OTHER, {}, 1000)).code === grpc.status.UNAVAILABLE,
    'plaintext refused',
  );
  const secure = direct(s, await mtls(certs.client));
  await eventually(async () => (await callPath(secure, ECHO_OTHER)).backend === 'live', 'mTLS served');
  assert.equal((await callPath(secure, ECHO_CALL)).code, grpc.status.PERMISSION_DENIED);
  // And back: DISABLE serves plaintext again.
  modeByPort.set(s.port, 'DISABLE');
  push();
  await eventually(
    async () => (await callPath(direct(s), ECHO_OTHER, {}, 1000)).backend === 'live',
    'plaintext served again',
  );
  assert.deepEqual(await nacksOf(mesh, nodeId('live-1')), []);
});

test('turning mTLS on for a running pair: STRICT server and ISTIO_MUTUAL client, no restart', async () => {
  const s = await serve('migrate', []);
  const c = new grpc.Client(
    'xds:///migrate.default.svc.cluster.local:50051',
    new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()),
    {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(
        mesh.xdsPort,
        nodeId('migrating-client'),
        {},
        { certDir: certs.client.dir },
      ),
    },
  );
  clients.push(c);
  await eventually(async () => (await callPath(c, ECHO_CALL)).backend === 'migrate', 'plaintext first');
  assert.equal(s.peers.at(-1), '');
  modeByPort.set(s.port, 'STRICT');
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: migrate }
spec:
  host: migrate.default.svc.cluster.local
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
`);
  await eventually(
    async () => (await callPath(c, ECHO_CALL, {}, 1000)).backend === 'migrate' && s.peers.at(-1) === CLIENT,
    { what: 'calls over mTLS with the client identity', timeoutMs: 15_000 },
  );
  assert.deepEqual(await nacksOf(mesh, nodeId('migrating-client')), []);
  assert.deepEqual(await nacksOf(mesh, nodeId('migrate-1')), []);
});
