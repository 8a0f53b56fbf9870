/**
 * A Gateway server with `tls.mode: PASSTHROUGH`, end to end: the control plane's translation of
 * the gateway (a listener whose filter chains are chosen by SNI from the `tls:` routes bound to
 * it) served to a real Trellis proxy bound on the gateway port, and TLS clients connecting
 * through it. The gateway never terminates: each client sees its backend's own certificate.
 * Also a `tcp:` route at a TCP server of the same gateway.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { TYPE } from '../../../src/protocol/protos.js';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { startMesh } from '../../../src/proxy/testing/harness.js';
import { workloadCertificate } from '../../../src/proxy/testing/mesh-tls.js';
import { buildPushContext, generate } from '../../../src/xds/translate/index.js';
import { config, endpoint, proxy, registry, res, service } from '../../../src/xds/translate/testkit.js';

const GATEWAY = proxy({ type: 'router', namespace: 'istio-system', labels: { istio: 'ingressgateway' } });

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TLS server with its own workload certificate (SAN `.../sa/NAME`) that says its name. */
async function tlsBackend(t: TestContext, ca: CertificateAuthority, name: string): Promise<number> {
  const cert = await workloadCertificate(ca, name);
  const server = tls.createServer({ key: cert.privateKeyPem, cert: cert.certChainPem }, (s) => {
    s.end(`hello from ${name}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

async function echoBackend(t: TestContext): Promise<number> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

type Outcome = { kind: 'tls'; body: string; san: string } | { kind: 'refused'; why: string };

/** A TLS client with `servername` (none: no SNI); what it read, and whose certificate it saw. */
function connectTls(port: number, servername: string | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(servername !== undefined ? { servername } : {}),
    });
    let body = '';
    let done = false;
    let secure = false;
    socket.on('secureConnect', () => (secure = true));
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(o);
    };
    socket.on('data', (d: Buffer) => (body += d.toString()));
    socket.on('end', () => {
      if (!secure) return finish({ kind: 'refused', why: 'closed before the handshake' });
      const san = socket.getPeerCertificate()?.subjectaltname ?? '';
      finish({ kind: 'tls', body, san });
    });
    socket.on('error', (err) => finish({ kind: 'refused', why: err.message }));
    socket.on('close', () => finish({ kind: 'refused', why: 'closed' }));
  });
}

async function startGateway(t: TestContext) {
  const ca = await CertificateAuthority.create({ trustDomain: 'cluster.local' });
  const [aPort, bPort, echoPort, tlsPort, tcpPort] = await Promise.all([
    tlsBackend(t, ca, 'backend-a'),
    tlsBackend(t, ca, 'backend-b'),
    echoBackend(t),
    freePort(),
    freePort(),
  ]);
  const tlsPortSpec = (n: number) => ({ name: 'tls', number: n, protocol: 'TLS' as const });
  const services = [
    service('a.example.com', [tlsPortSpec(443)], { namespace: 'default', location: 'MESH_EXTERNAL' }),
    service('b.example.com', [tlsPortSpec(443)], { namespace: 'default', location: 'MESH_EXTERNAL' }),
    service('db.example.com', [{ name: 'tcp', number: 5432, protocol: 'TCP' }], { namespace: 'default' }),
  ];
  const endpoints = [
    endpoint('a.example.com', '127.0.0.1', { namespace: 'default', ports: { tls: aPort } }),
    endpoint('b.example.com', '127.0.0.1', { namespace: 'default', ports: { tls: bPort } }),
    endpoint('db.example.com', '127.0.0.1', { namespace: 'default', ports: { tcp: echoPort } }),
  ];
  const resources = [
    res('Gateway', 'istio-system', 'edge', {
      selector: { istio: 'ingressgateway' },
      servers: [
        {
          port: { number: tlsPort, name: 'tls', protocol: 'TLS' },
          hosts: ['*.example.com'],
          tls: { mode: 'PASSTHROUGH' },
        },
        { port: { number: tcpPort, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
      ],
    }),
    res('VirtualService', 'default', 'by-sni', {
      hosts: ['a.example.com', 'b.example.com'],
      gateways: ['istio-system/edge'],
      tls: [
        {
          match: [{ sniHosts: ['a.example.com'], port: tlsPort }],
          route: [{ destination: { host: 'a.example.com' } }],
        },
        {
          match: [{ sniHosts: ['b.example.com'] }],
          route: [{ destination: { host: 'b.example.com', port: { number: 443 } } }],
        },
      ],
    }),
    res('VirtualService', 'default', 'db', {
      hosts: ['db.example.com'],
      gateways: ['istio-system/edge'],
      tcp: [{ match: [{ port: tcpPort }], route: [{ destination: { host: 'db.example.com' } }] }],
    }),
  ];
  const push = buildPushContext(config(resources), registry(services, endpoints), { autoMtls: false });
  const all = (type: Parameters<typeof generate>[2]) => [...generate(push, GATEWAY, type).values()];
  const lds = all(TYPE.listener);
  const mesh = await startMesh(
    { CDS: all(TYPE.cluster), EDS: all(TYPE.endpoint), LDS: lds },
    { bindListeners: [tlsPort, tcpPort] },
    FakeAds,
  );
  t.after(() => mesh.close());
  return { tlsPort, tcpPort, lds, proxy: mesh.proxy };
}

test('TLS PASSTHROUGH at a gateway: SNI picks the backend, the backend terminates, an unknown SNI is refused', async (t) => {
  const gw = await startGateway(t);
  const a = await connectTls(gw.tlsPort, 'a.example.com');
  assert.deepEqual(a.kind, 'tls');
  assert.equal(a.kind === 'tls' && a.body, 'hello from backend-a');
  // The certificate is backend A's own: the gateway did not terminate.
  assert.match(a.kind === 'tls' ? a.san : '', /sa\/backend-a/);
  const b = await connectTls(gw.tlsPort, 'b.example.com');
  assert.equal(b.kind === 'tls' && b.body, 'hello from backend-b');
  assert.match(b.kind === 'tls' ? b.san : '', /sa\/backend-b/);
  // Names no route claims, no SNI at all, and plain bytes get nothing.
  for (const sni of ['c.example.com', 'example.com', 'a.example.com.evil', undefined]) {
    const r = await connectTls(gw.tlsPort, sni);
    assert.equal(r.kind, 'refused', `SNI ${sni ?? '(none)'}`);
  }
  const plain = await new Promise<string>((resolve) => {
    const s = net.connect(gw.tlsPort, '127.0.0.1', () =>
      s.write('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n'),
    );
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
  });
  assert.equal(plain, '');
  // Counted as TCP connections to each service (the gateway saw no HTTP).
  const stats = gw.proxy.stats.prometheus();
  assert.match(
    stats,
    /istio_tcp_connections_opened_total\{[^}]*destination_service="a\.example\.com"[^}]*\} 1/,
  );
  assert.match(
    stats,
    /istio_tcp_connections_opened_total\{[^}]*destination_service="b\.example\.com"[^}]*\} 1/,
  );
});

test('a tcp: route at a gateway TCP server forwards the bytes', async (t) => {
  const gw = await startGateway(t);
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = net.connect(gw.tcpPort, '127.0.0.1', () => s.write('ping'));
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got === 'ping') s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  assert.equal(echoed, 'ping');
});
