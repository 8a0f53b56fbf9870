/**
 * Certificate rotation through two real sidecars: under steady load (HTTP/1.1 keep-alive and h2,
 * both hops mTLS) the workload certificates of both sides are replaced every 300 ms and no
 * request fails; new handshakes use the new certificate while open connections keep theirs. A
 * root change: with old and new roots in the bundle both are accepted; once the old root leaves,
 * a peer still on it is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import { eventually } from '../../core/testing/eventually.js';
import { request } from '../testing/harness.js';
import { CertificateAuthority, spiffe, workloadCertificate } from '../testing/mesh-tls.js';
import { startSidecars } from '../testing/sidecars.js';
import type { WorkloadCertificate } from './workload-certificate.js';

/** The certificate a server presents to a fresh TLS connection. */
async function presented(port: number, client: WorkloadCertificate): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const s = tls.connect(
      {
        port,
        host: '127.0.0.1',
        cert: client.certChainPem,
        key: client.privateKeyPem,
        rejectUnauthorized: false,
        ALPNProtocols: ['istio-http/1.1'],
      },
      () => {
        resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
        s.destroy();
      },
    );
    s.on('error', reject);
  });
}

const fingerprint = (c: WorkloadCertificate) => new X509Certificate(c.certChainPem).fingerprint256;

test('rotation every 300 ms under HTTP/1.1 keep-alive and h2 load, both hops mTLS: no request fails', async (t) => {
  const m = await startSidecars(t, { mode: 'STRICT' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const session = http2.connect(`http://127.0.0.1:${m.outboundPort}`);
  t.after(() => {
    agent.destroy();
    session.close();
  });
  const outcomes = { ok: 0, failed: [] as string[] };
  let running = true;
  const h1 = async () => {
    while (running) {
      const status = await new Promise<string>((resolve) => {
        const req = http.get(
          { port: m.outboundPort, host: '127.0.0.1', path: '/h1', headers: { host: 'reviews:9080' }, agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
          },
        );
        req.on('error', (e) => resolve(e.message));
      });
      if (status === '200') outcomes.ok++;
      else outcomes.failed.push(`h1 ${status}`);
    }
  };
  const h2 = async () => {
    while (running) {
      const status = await new Promise<string>((resolve) => {
        const req = session.request({ ':path': '/h2', ':authority': 'reviews:9080' });
        req.on('response', (h) => {
          req.resume();
          req.on('end', () => resolve(String(h[':status'])));
        });
        req.on('error', (e) => resolve(e.message));
        req.end();
      });
      if (status === '200') outcomes.ok++;
      else outcomes.failed.push(`h2 ${status}`);
    }
  };
  const load = [h1(), h1(), h1(), h2(), h2()];
  let last: WorkloadCertificate | undefined;
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 300));
    // New connections on the server side, and on the client side (its pools retire idle ones).
    m.client.clusters.pools.retain(new Set());
    m.clientCerts.rotate(await workloadCertificate(m.ca, 'productpage'));
    last = await workloadCertificate(m.ca, 'reviews');
    m.serverCerts.rotate(last);
  }
  running = false;
  await Promise.all(load);
  assert.deepEqual(outcomes.failed, []);
  assert.ok(outcomes.ok > 100, `only ${outcomes.ok} requests went through`);
  // A new handshake gets the last certificate.
  assert.equal(await presented(m.inboundPort, await workloadCertificate(m.ca, 'x')), fingerprint(last!));
});

test('a new handshake uses the rotated client certificate; an open connection keeps its own', async (t) => {
  const m = await startSidecars(t, { mode: 'STRICT' });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  // The identity changes here only so the server's log shows which certificate each request came with.
  m.clientCerts.rotate(await workloadCertificate(m.ca, 'productpage-v2'));
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  m.client.clusters.pools.retain(new Set());
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  await eventually(() => m.serverLog().length === 3, 'three server log lines');
  assert.deepEqual(
    m.serverLog().map((l) => /peer=(\S+)/.exec(l)?.[1]),
    [spiffe('productpage'), spiffe('productpage'), spiffe('productpage-v2')],
  );
});

test('root rotation: old and new roots in the bundle accept both; after the old root leaves, its peers are refused', async (t) => {
  const oldCa = await CertificateAuthority.create();
  const newCa = await CertificateAuthority.create();
  const both = [...oldCa.trustBundle(), ...newCa.trustBundle()];
  const m = await startSidecars(t, { mode: 'STRICT', ca: oldCa });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);

  // 1. Both sides trust both roots; the client moves to the new root's certificate.
  m.serverCerts.rotate(await workloadCertificate(oldCa, 'reviews', { trustBundle: both }));
  m.clientCerts.rotate(await workloadCertificate(newCa, 'productpage', { trustBundle: both }));
  m.client.clusters.pools.retain(new Set());
  assert.equal(
    (await request(m.outboundPort, { host: 'reviews:9080' })).status,
    200,
    'new-root client, old-root server',
  );

  // 2. The server moves too, and the old root leaves its bundle.
  m.serverCerts.rotate(await workloadCertificate(newCa, 'reviews', { trustBundle: newCa.trustBundle() }));
  m.client.clusters.pools.retain(new Set());
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200, 'both on the new root');

  // 3. A client still on the old root is refused by the server now.
  m.clientCerts.rotate(await workloadCertificate(oldCa, 'productpage', { trustBundle: both }));
  m.client.clusters.pools.retain(new Set());
  const refused = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(refused.status, 503);
  const hits = m.backend.hits;
  assert.equal(hits, 3);
});
