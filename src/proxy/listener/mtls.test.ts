/**
 * Mesh mTLS between two real sidecars on 127.0.0.1, with certificates from a real CA: the client
 * proxy's auto-mTLS cluster (transport_socket_matches on tlsMode) and the server proxy's inbound
 * listener (TLS inspector, chains by transport protocol and Istio's ALPN values, the workload's
 * `default`/`ROOTCA` through sds-grpc). STRICT refuses plain text and foreign or expired client
 * certificates; PERMISSIVE takes both; the server sees the caller's SPIFFE identity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { eventually } from '../../core/testing/eventually.js';
import { request } from '../testing/harness.js';
import { CertificateAuthority, spiffe, workloadCertificate } from '../testing/mesh-tls.js';
import { startSidecars } from '../testing/sidecars.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';

/** Sends one HTTP/1.1 request over TLS straight to the server's inbound port; the status, or the error. */
async function directTls(
  port: number,
  cert: WorkloadCertificate | undefined,
  ca: string,
  alpn = ['istio-http/1.1'],
) {
  return await new Promise<string>((resolve) => {
    const s = tls.connect(
      {
        port,
        host: '127.0.0.1',
        ca,
        ...(cert ? { cert: cert.certChainPem, key: cert.privateKeyPem } : {}),
        ALPNProtocols: alpn,
        checkServerIdentity: () => undefined,
      },
      () => s.write('GET /direct HTTP/1.1\r\nhost: reviews:9080\r\nconnection: close\r\n\r\n'),
    );
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    s.on('close', () => resolve(data === '' ? 'closed' : (/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? data)));
  });
}

/** Plain HTTP/1.1 to the inbound port: the status, or `closed` when the connection is dropped. */
async function plaintext(port: number): Promise<string> {
  return await new Promise<string>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () =>
      s.write('GET /plain HTTP/1.1\r\nhost: reviews:9080\r\nconnection: close\r\n\r\n'),
    );
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => resolve('closed'));
    s.on('close', () => resolve(data === '' ? 'closed' : (/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? data)));
  });
}

async function serverStats(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
  return await res.text();
}

test('STRICT mTLS between sidecars: the server sees the caller SPIFFE identity in logs and metrics', async (t) => {
  const m = await startSidecars(t, { mode: 'STRICT' });
  const res = await request(m.outboundPort, { host: 'reviews:9080', path: '/ratings' });
  assert.equal(res.status, 200);
  assert.equal(res.json().path, '/ratings');
  await eventually(() => m.serverLog().length >= 1, 'server access log');
  assert.equal(
    m.serverLog()[0],
    `200 - peer=${spiffe('productpage')} local=${spiffe('reviews')} tls=TLSv1.3 upstream_failure=- attempts=1`,
  );
  const stats = await serverStats(m.server.adminPort);
  assert.match(
    stats,
    new RegExp(
      `istio_requests_total\\{reporter="destination",.*response_code="200".*source_principal="${spiffe('productpage')}",destination_principal="${spiffe('reviews')}",connection_security_policy="mutual_tls"\\} 1`,
    ),
  );
});

test('STRICT refuses plain text, no client certificate, another root, and an expired certificate', async (t) => {
  // A CA whose clock can be set back, to issue a certificate that has already expired.
  let now = Date.now() - 3 * 86_400_000;
  const ca = await CertificateAuthority.create({ clock: { wallNow: () => now } });
  const expired = await workloadCertificate(ca, 'productpage', { ttlSeconds: 3600 });
  now = Date.now();
  const m = await startSidecars(t, { mode: 'STRICT', ca });
  const root = ca.trustBundle().join('');
  const good = await workloadCertificate(ca, 'ratings');
  const foreign = await workloadCertificate(await CertificateAuthority.create(), 'productpage');

  assert.equal(await directTls(m.inboundPort, good, root), '200', 'a mesh certificate is served');
  assert.equal(await plaintext(m.inboundPort), 'closed', 'plain text to STRICT');
  const refused = /^(error|closed)/;
  assert.match(await directTls(m.inboundPort, undefined, root), refused, 'no client certificate');
  assert.match(await directTls(m.inboundPort, foreign, root), refused, 'certificate from another root');
  assert.match(await directTls(m.inboundPort, expired, root), refused, 'expired certificate');
  // The ALPN of the chain matters too: a TLS client without Istio's ALPN finds no chain.
  assert.match(await directTls(m.inboundPort, good, root, ['h2', 'http/1.1']), refused, 'non-mesh ALPN');
  // Only the good certificate made it to the app.
  assert.equal(m.backend.hits, 1);
});

test('PERMISSIVE takes mTLS and plain text; metrics tell them apart', async (t) => {
  const m = await startSidecars(t, { mode: 'PERMISSIVE' });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  assert.equal(await plaintext(m.inboundPort), '200');
  assert.equal(m.backend.hits, 2);
  await eventually(() => m.serverLog().length >= 2, 'two access log lines');
  assert.deepEqual(
    m
      .serverLog()
      .map((l) => l.split(' ').slice(0, 4).join(' '))
      .sort(),
    [`200 - peer=- local=-`, `200 - peer=${spiffe('productpage')} local=${spiffe('reviews')}`],
  );
  const stats = await serverStats(m.server.adminPort);
  assert.match(
    stats,
    /source_principal="unknown",destination_principal="unknown",connection_security_policy="none"\} 1/,
  );
  assert.match(stats, /connection_security_policy="mutual_tls"\} 1/);
});
