/**
 * Upstream TLS through real sidecars: h2 and TCP over mTLS on both hops; a server certificate
 * that fails the cluster's SAN matcher or chains to another root is a connect failure (UF) with
 * Envoy's transport failure reason, retried as a connect failure; auto mTLS sends plain text to
 * endpoints without a sidecar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { eventually } from '../../core/testing/eventually.js';
import { request } from '../testing/harness.js';
import {
  CertificateAuthority,
  istioMutual,
  meshEndpoints,
  spiffe,
  workloadCertificate,
} from '../testing/mesh-tls.js';
import { REVIEWS, startSidecars } from '../testing/sidecars.js';

test('a server certificate failing the SAN matcher is UF with a TLS transport failure, retried as a connect failure', async (t) => {
  const m = await startSidecars(t, {
    upstreamTls: istioMutual({ sans: [{ exact: spiffe('details') }] }),
    routeAction: { retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 } } },
  });
  const res = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(res.status, 503);
  assert.match(
    res.body,
    /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: TLS_error:\|.*no subject alternative name matches.*:TLS_error_end/,
  );
  assert.equal(m.backend.hits, 0);
  await eventually(() => m.clientLog().length >= 1, 'client access log');
  assert.match(
    m.clientLog()[0]!,
    /^503 UF,URX .* upstream_failure=TLS_error:\|SAN_MISMATCH:no subject alternative name matches \(URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\):TLS_error_end attempts=3$/,
  );
  const cluster = m.client.clusters.get(REVIEWS)!;
  assert.equal(cluster.counters.upstream_cx_connect_fail, 3);
});

test('a server certificate from another root is refused; the right SAN is accepted', async (t) => {
  const other = await CertificateAuthority.create();
  const m = await startSidecars(t, {
    upstreamTls: istioMutual({ sans: [{ exact: spiffe('reviews') }] }),
    serverCert: await workloadCertificate(other, 'reviews', {
      trustBundle: (await CertificateAuthority.create()).trustBundle(),
    }),
  });
  const res = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(res.status, 503);
  assert.match(
    res.body,
    /transport failure reason: TLS_error:\|UNABLE_TO_GET_ISSUER_CERT_LOCALLY:unable to get local issuer certificate:TLS_error_end/,
  );
  // The same server with a certificate of the mesh's CA: served.
  m.serverCerts.rotate(await workloadCertificate(m.ca, 'reviews'));
  const ok = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(ok.status, 200);
});

test('auto mTLS: an endpoint without a sidecar gets plain text, one with a sidecar mTLS', async (t) => {
  const m = await startSidecars(t, { mode: 'PERMISSIVE' });
  // The app itself (no sidecar, no tlsMode label) beside the server sidecar.
  m.clientAds.set('EDS', [meshEndpoints(REVIEWS, [{ port: m.backend.port }])]);
  await m.clientAds.waitForAck('EDS');
  await eventually(
    () => m.client.snapshot().endpoints.get(REVIEWS)?.localities[0]?.endpoints[0]?.port === m.backend.port,
  );
  const res = await request(m.outboundPort, { host: 'reviews:9080', path: '/plain' });
  assert.equal(res.status, 200, 'plain text reached the app directly');
  assert.equal(m.serverLog().length, 0, 'the server sidecar saw nothing');
  m.clientAds.set('EDS', [meshEndpoints(REVIEWS, [{ port: m.inboundPort, tlsMode: 'istio' }])]);
  await m.clientAds.waitForAck('EDS');
  await eventually(
    async () =>
      (await request(m.outboundPort, { host: 'reviews:9080' })).status === 200 && m.serverLog().length > 0,
  );
  assert.match(m.serverLog()[0]!, new RegExp(`peer=${spiffe('productpage')}`));
});

test('h2 over mTLS on both hops', async (t) => {
  const m = await startSidecars(t, { http2: true });
  const session = http2.connect(`http://127.0.0.1:${m.outboundPort}`);
  t.after(() => session.close());
  const statuses = await Promise.all(
    Array.from(
      { length: 5 },
      () =>
        new Promise<number>((resolve, reject) => {
          const req = session.request({ ':path': '/h2', ':authority': 'reviews:9080' });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
          req.resume();
          req.end();
        }),
    ),
  );
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  await eventually(() => m.serverLog().length === 5, 'five server log lines');
  for (const line of m.serverLog()) assert.match(line, new RegExp(`^200 - peer=${spiffe('productpage')} `));
});

test('TCP proxy over mTLS on both hops: bytes flow, the server TCP metrics say mutual_tls', async (t) => {
  const m = await startSidecars(t, { kind: 'tcp', mode: 'STRICT' });
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: m.outboundPort, host: '127.0.0.1' }, () =>
      s.write('GET /tcp HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n'),
    );
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(data));
  });
  assert.match(reply, /^HTTP\/1\.1 200/);
  assert.match(reply, /"path":"\/tcp"/);
  await eventually(() => m.serverLog().length >= 1, 'server TCP access log');
  assert.match(
    m.serverLog()[0]!,
    new RegExp(`peer=${spiffe('productpage')} local=${spiffe('reviews')} tls=TLSv1.3`),
  );
  const stats = await (await fetch(`http://127.0.0.1:${m.server.adminPort}/stats/prometheus`)).text();
  assert.match(
    stats,
    new RegExp(
      `istio_tcp_connections_opened_total\\{reporter="destination",.*source_principal="${spiffe('productpage')}",destination_principal="${spiffe('reviews')}",connection_security_policy="mutual_tls"\\} 1`,
    ),
  );
});

test('an upgrade (websocket) tunnels over mTLS between the sidecars', async (t) => {
  const websocket = { upgrade_configs: [{ upgrade_type: 'websocket' }] };
  const m = await startSidecars(t, { mode: 'STRICT', inboundHcm: websocket, outboundHcm: websocket });
  m.backend.server.on('upgrade', (_req, socket: net.Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    // node's HTTP server keeps upgraded sockets half-open: end ours when the proxy ends its side.
    socket.on('end', () => socket.end());
  });
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: m.outboundPort, host: '127.0.0.1' }, () =>
      s.write('GET /ws HTTP/1.1\r\nhost: reviews:9080\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n'),
    );
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\r\n\r\n') && !data.includes('echo:')) s.write('ping');
      if (data.includes('echo:ping')) {
        resolve(data);
        s.destroy();
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(data));
  });
  assert.match(echoed, /^HTTP\/1\.1 101/);
  assert.match(echoed, /echo:ping$/);
  // The server sidecar is STRICT: only an mTLS connection from the client sidecar reaches the app.
  await eventually(() => m.serverLog().length >= 1, 'the server logs the tunnel when it ends');
  assert.match(m.serverLog()[0]!, new RegExp(`^101 - peer=${spiffe('productpage')} `));
});
