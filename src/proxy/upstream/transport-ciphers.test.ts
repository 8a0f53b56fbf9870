/**
 * The TLS cipher order of the proxy's contexts: AES-128-GCM first for TLS 1.3 (what two Envoys
 * negotiate), every suite still accepted, and TLS 1.3 kept when `cipher_suites` (TLS 1.2 and
 * below, as in Envoy) are configured. Through real sidecars, read in the server's access log
 * (%DOWNSTREAM_TLS_CIPHER%, %DOWNSTREAM_TLS_VERSION%).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { eventually } from '../../core/testing/eventually.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { request } from '../testing/harness.js';
import { sdsGrpc, spiffe, workloadCertificate } from '../testing/mesh-tls.js';
import { startSidecars } from '../testing/sidecars.js';
import { contextCiphers, TLS13_SUITES } from './transport-ciphers.js';

test('contextCiphers: TLS 1.3 suites in Envoy order, then the TLS 1.2 list configured or the default', () => {
  const defaultTls12 = tls.DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_'));
  const cases: [string, string | undefined, string[]][] = [
    ['nothing configured', undefined, [...TLS13_SUITES, ...defaultTls12]],
    [
      'TLS 1.2 suites only (Envoy cipher_suites)',
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384',
      [...TLS13_SUITES, 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384'],
    ],
    [
      'TLS 1.3 suites named: kept as given, in their place ahead of TLS 1.2',
      'ECDHE-ECDSA-AES128-GCM-SHA256:TLS_CHACHA20_POLY1305_SHA256',
      ['TLS_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
    ],
    [
      'empty entries ignored',
      'ECDHE-ECDSA-AES128-GCM-SHA256::',
      [...TLS13_SUITES, 'ECDHE-ECDSA-AES128-GCM-SHA256'],
    ],
  ];
  for (const [name, configured, want] of cases)
    assert.deepEqual(contextCiphers(configured).split(':'), want, name);
  assert.deepEqual(TLS13_SUITES, [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
  ]);
  // Every result is a list OpenSSL takes.
  for (const [, configured] of cases) tls.createSecureContext({ ciphers: contextCiphers(configured) });
});

/** A file access log on the server's inbound chains with the TLS operators. */
function tlsLog(file: string): Record<string, unknown> {
  return {
    access_log: [
      {
        name: 'envoy.access_loggers.file',
        typed_config: packAny(TYPE.fileAccessLog, {
          path: file,
          log_format: {
            text_format_source: {
              inline_string:
                '%RESPONSE_CODE% %DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_URI_SAN%\n',
            },
          },
        }),
      },
    ],
  };
}

function logLines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

test('sidecar to sidecar mTLS negotiates TLS 1.3 with AES-128-GCM (Envoy order), seen in the access log', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ciphers-')), 'server.log');
  const m = await startSidecars(t, { mode: 'STRICT', inboundHcm: tlsLog(file) });
  const res = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(res.status, 200);
  await eventually(() => logLines(file).length >= 1, 'server access log');
  assert.equal(logLines(file)[0], `200 TLSv1.3 TLS_AES_128_GCM_SHA256 ${spiffe('productpage')}`);
});

test('the inbound listener picks AES-128-GCM for a client preferring AES-256 (node default) and takes ChaCha20-only clients', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ciphers-')), 'server.log');
  const m = await startSidecars(t, { mode: 'STRICT', inboundHcm: tlsLog(file) });
  const cert = await workloadCertificate(m.ca, 'ratings');
  const get = (ciphers?: string) =>
    new Promise<string>((resolve) => {
      const s = tls.connect(
        {
          port: m.inboundPort,
          host: '127.0.0.1',
          ca: m.ca.trustBundle().join(''),
          cert: cert.certChainPem,
          key: cert.privateKeyPem,
          ALPNProtocols: ['istio-http/1.1'],
          checkServerIdentity: () => undefined,
          ...(ciphers ? { ciphers } : {}),
        },
        () => s.write('GET / HTTP/1.1\r\nhost: reviews:9080\r\nconnection: close\r\n\r\n'),
      );
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      s.on('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? `closed ${data}`));
    });
  assert.equal(await get(), '200');
  assert.equal(await get('TLS_CHACHA20_POLY1305_SHA256'), '200');
  await eventually(() => logLines(file).length >= 2, 'server access log');
  // OpenSSL's TLS 1.3 server takes its own first suite the client offers: AES-128-GCM here too.
  assert.deepEqual(
    logLines(file).map((l) => l.split(' ').slice(0, 3).join(' ')),
    ['200 TLSv1.3 TLS_AES_128_GCM_SHA256', '200 TLSv1.3 TLS_CHACHA20_POLY1305_SHA256'],
  );
});

test('cipher_suites on the upstream context restrict TLS 1.2 only: sidecars still speak TLS 1.3 with AES-128-GCM (as Envoy)', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-ciphers-')), 'server.log');
  const withParams = {
    name: 'envoy.transport_sockets.tls',
    typed_config: packAny(TYPE.upstreamTls, {
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsGrpc('default')],
        combined_validation_context: {
          default_validation_context: {},
          validation_context_sds_secret_config: sdsGrpc('ROOTCA'),
        },
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_params: { cipher_suites: ['ECDHE-ECDSA-AES256-GCM-SHA384'] },
      },
      sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    }),
  };
  const m = await startSidecars(t, { mode: 'STRICT', inboundHcm: tlsLog(file), upstreamTls: withParams });
  const res = await request(m.outboundPort, { host: 'reviews:9080' });
  assert.equal(res.status, 200);
  await eventually(() => logLines(file).length >= 1, 'server access log');
  assert.equal(logLines(file)[0], `200 TLSv1.3 TLS_AES_128_GCM_SHA256 ${spiffe('productpage')}`);
});
