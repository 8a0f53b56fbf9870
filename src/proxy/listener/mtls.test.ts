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
import { TYPE, packAny } from '../../protocol/protos.js';
import { request } from '../testing/harness.js';
import { APP_HOST, startServiceMesh } from '../testing/service-mesh.js';
import {
  autoMtls,
  CertificateAuthority,
  inboundListener,
  istioMutual,
  sdsGrpc,
  spiffe,
  workloadCertificate,
} from '../testing/mesh-tls.js';
import { edsCluster, httpListener } from '../testing/resources.js';
import { INBOUND, REVIEWS, startSidecars } from '../testing/sidecars.js';
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

test('malformed TLS config is NACKed with field paths while the last good config keeps serving mTLS', async (t) => {
  const m = await startSidecars(t, { mode: 'STRICT' });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  // The client: a cluster whose SAN matcher is a broken regex.
  m.clientAds.set('CDS', [
    edsCluster(REVIEWS, autoMtls(istioMutual({ sans: [{ safe_regex: { regex: '([' } }] }))),
  ]);
  await m.clientAds.waitFor(() => m.clientAds.nacks('CDS').length > 0, 'CDS NACK');
  assert.match(
    m.clientAds.nacks('CDS')[0]!.error_detail?.message ?? '',
    /transport_socket_matches\[0\]\.transport_socket\.typed_config\.common_tls_context\.combined_validation_context\.default_validation_context\.match_subject_alt_names\[0\]\.safe_regex\.regex/,
  );
  // The server: an inbound chain naming a secret sds-grpc does not serve, and an unknown SDS cluster.
  const bad = inboundListener(0, INBOUND, { mode: 'STRICT' }) as {
    filter_chains: { transport_socket: object }[];
  };
  bad.filter_chains[0]!.transport_socket = {
    name: 'envoy.transport_sockets.tls',
    typed_config: packAny(TYPE.downstreamTls, {
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsGrpc('file-cert:/etc/cert.pem')],
        combined_validation_context: { validation_context_sds_secret_config: sdsGrpc('ROOTCA', 'other-sds') },
      },
      require_client_certificate: { value: true },
    }),
  };
  m.serverAds.set('LDS', [bad]);
  await m.serverAds.waitFor(() => m.serverAds.nacks('LDS').length > 0, 'LDS NACK');
  const message = m.serverAds.nacks('LDS')[0]!.error_detail?.message ?? '';
  assert.match(
    message,
    /tls_certificate_sds_secret_configs\[0\]\.name: sds-grpc serves "default" and "ROOTCA" only, not "file-cert:\/etc\/cert\.pem"/,
  );
  assert.match(
    message,
    /validation_context_sds_secret_config\.sds_config\.api_config_source\.grpc_services: only envoy_grpc cluster_name "sds-grpc"/,
  );
  // Both keep serving with what they had: mTLS still, the SAN still the caller's.
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  m.client.clusters.pools.retain(new Set());
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080' })).status, 200);
  await eventually(() => m.serverLog().length === 3);
  for (const line of m.serverLog()) assert.match(line, new RegExp(`peer=${spiffe('productpage')} `));
});

test('a proxy without a workload certificate source NACKs sds-grpc secrets and keeps its last good listeners', async (t) => {
  const mesh = await startServiceMesh(t);
  mesh.ads.set('LDS', [httpListener(9080, '9080'), inboundListener(15006, INBOUND, { mode: 'STRICT' })]);
  await mesh.ads.waitFor(() => mesh.ads.nacks('LDS').length > 0, 'LDS NACK');
  assert.match(
    mesh.ads.nacks('LDS')[0]!.error_detail?.message ?? '',
    /Listener "virtualInbound_15006"\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.sds_config: secret "default" comes from sds-grpc, but this proxy has no workload certificate source/,
  );
  assert.equal((await request(mesh.port, { host: APP_HOST })).status, 200);
  assert.deepEqual([...mesh.proxy.snapshot().listeners.keys()], ['0.0.0.0_9080']);
});

test('config_dump shows the workload secrets default (key redacted) and ROOTCA, and their rotation', async (t) => {
  const m = await startSidecars(t, { mode: 'STRICT' });
  interface Secret {
    name: string;
    versionInfo: string;
    secret: {
      tlsCertificate?: { certificateChain: { inlineBytes: string }; privateKey: { inlineBytes: string } };
      validationContext?: { trustedCa: { inlineBytes: string } };
    };
  }
  const secrets = async (): Promise<Secret[]> => {
    const dump = (await (await fetch(`http://127.0.0.1:${m.server.adminPort}/config_dump`)).json()) as {
      configs: { '@type': string; dynamicActiveSecrets?: Secret[] }[];
    };
    return dump.configs.find((c) => c['@type'].endsWith('SecretsConfigDump'))!.dynamicActiveSecrets!;
  };
  const text = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString();
  const before = await secrets();
  assert.deepEqual(
    before.map((s) => s.name),
    ['default', 'ROOTCA'],
  );
  const cert = m.serverCerts.current()!;
  assert.equal(text(before[0]!.secret.tlsCertificate?.certificateChain.inlineBytes), cert.certChainPem);
  assert.equal(text(before[0]!.secret.tlsCertificate?.privateKey.inlineBytes), '[redacted]');
  assert.equal(text(before[1]!.secret.validationContext?.trustedCa.inlineBytes), cert.rootCertsPem);
  const body = JSON.stringify(before);
  assert.ok(!body.includes(Buffer.from(cert.privateKeyPem).toString('base64')), 'the key is never shown');
  assert.ok(!body.includes('PRIVATE KEY'));

  const next = await workloadCertificate(m.ca, 'reviews');
  m.serverCerts.rotate(next);
  const after = await secrets();
  assert.equal(text(after[0]!.secret.tlsCertificate?.certificateChain.inlineBytes), next.certChainPem);
  assert.equal(after[0]!.versionInfo, next.notBefore.toISOString());
});

test('x-forwarded-client-cert: set from the verified certificate; a forged one never reaches the app', async (t) => {
  const m = await startSidecars(t, {
    mode: 'PERMISSIVE',
    inboundHcm: {
      forward_client_cert_details: 'APPEND_FORWARD',
      set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true },
    },
  });
  const forged = `By=${spiffe('reviews')};Hash=00;URI=${spiffe('admin', 'istio-system')}`;
  // Through the client sidecar: its outbound HCM sanitizes what the app wrote; the server sets its own.
  const res = await request(m.outboundPort, {
    host: 'reviews:9080',
    headers: { 'x-forwarded-client-cert': forged },
  });
  const xfcc = res.json<{ headers: Record<string, string> }>().headers['x-forwarded-client-cert'];
  assert.match(
    xfcc ?? '',
    new RegExp(`^By=${spiffe('reviews')};Hash=[0-9a-f]{64};Subject="[^"]*";URI=${spiffe('productpage')}$`),
  );
  // Plain text straight to the PERMISSIVE port: the forged header is dropped, nothing is set.
  const plain = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: m.inboundPort, host: '127.0.0.1' }, () =>
      s.write(
        `GET / HTTP/1.1\r\nhost: reviews:9080\r\nx-forwarded-client-cert: ${forged}\r\nconnection: close\r\n\r\n`,
      ),
    );
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(data));
  });
  assert.match(plain, /^HTTP\/1\.1 200/);
  assert.ok(!plain.includes('x-forwarded-client-cert'), plain);
});
