/**
 * TLS termination on a bound listener, against a fake control plane: certificates over SDS,
 * SNI choosing the filter chain, ALPN h2/http1.1, MUTUAL, warming until the secret arrives,
 * rotation for new connections only, NACK of a bad secret, and the redacted config dump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { memoryLogger } from '../../core/logger.js';
import { issueCertificate, type TestCertificate } from '../../core/testing/certificates.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { request, startBackend, startProxy } from '../testing/harness.js';
import { h2Get, httpsGet } from '../testing/https-client.js';
import { edsCluster, endpoints, routeConfig, routeTo, virtualHost } from '../testing/resources.js';

const C = 'outbound|9080||shop.default.svc.cluster.local';
const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
const admin = issueCertificate({ commonName: 'admin', dnsNames: ['admin.example.com'], issuer: ca });
const client = issueCertificate({ commonName: 'client', issuer: ca });

function certificateSecret(name: string, cert: TestCertificate, key = cert.keyPem): object {
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from(cert.certPem) },
      private_key: { inline_string: key },
    },
  };
}

const caSecret = (name: string): object => ({
  name,
  validation_context: { trusted_ca: { inline_bytes: Buffer.from(ca.certPem) } },
});

function tlsChain(serverNames: string[], certificate: string, mutual = false): object {
  const hcm = {
    stat_prefix: 'outbound_0.0.0.0_443',
    rds: { route_config_name: 'http.443', config_source: { ads: {} } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
  };
  const common: Record<string, unknown> = {
    tls_certificate_sds_secret_configs: [{ name: certificate, sds_config: { ads: {} } }],
    alpn_protocols: ['h2', 'http/1.1'],
  };
  if (mutual)
    common.validation_context_sds_secret_config = { name: `${certificate}-cacert`, sds_config: { ads: {} } };
  return {
    filter_chain_match: { transport_protocol: 'tls', server_names: serverNames },
    filters: [
      { name: 'envoy.filters.network.http_connection_manager', typed_config: packAny(TYPE.hcm, hcm) },
    ],
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: packAny(TYPE.downstreamTls, {
        common_tls_context: common,
        ...(mutual ? { require_client_certificate: { value: true } } : {}),
      }),
    },
  };
}

function gatewayListener(port: number): object {
  return {
    name: '0.0.0.0_443',
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    listener_filters: [
      {
        name: 'envoy.filters.listener.tls_inspector',
        typed_config: {
          type_url: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
          value: new Uint8Array(0),
        },
      },
    ],
    filter_chains: [
      tlsChain(['shop.example.com'], 'shop-cert'),
      tlsChain(['admin.example.com'], 'admin-cert', true),
    ],
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Whether a TLS handshake with this SNI completes (false: the proxy closed or refused it). */
async function handshakes(
  port: number,
  servername: string,
  extra: tls.ConnectionOptions = {},
): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername, ca: ca.certPem, ...extra }, () => {
      // TLS 1.3 reports a refused client certificate after the handshake: wait for a read.
      s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    s.once('data', () => {
      resolve(true);
      s.destroy();
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

test('gateway TLS: SDS certificates, SNI, ALPN, MUTUAL, warming, rotation, NACK and redacted dump', async (t) => {
  const backend = await startBackend('shop');
  const port = await freePort();
  const ads = await FakeAds.start();
  const { logger, lines } = memoryLogger();
  ads.set('CDS', [edsCluster(C)]);
  ads.set('EDS', [endpoints(C, [{ port: backend.port }])]);
  ads.set('LDS', [gatewayListener(port)]);
  ads.set('RDS', [routeConfig('http.443', [virtualHost('shop', ['*'], [routeTo(C)])])]);
  const proxy = await startProxy(ads, {
    bindListeners: [port],
    logger,
    bootstrap: {
      nodeId: 'router~127.0.0.1~gateway.istio-system~istio-system.svc.cluster.local',
      cluster: 'gateway.istio-system',
      mode: 'gateway',
      namespace: 'istio-system',
      workloadName: 'gateway',
      labels: { istio: 'ingressgateway' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
  });
  t.after(async () => {
    await proxy.stop(100);
    await ads.close();
    await backend.close();
  });

  // The listener names its secrets; until they arrive, handshakes are refused, never plain text.
  await ads.waitFor(
    () =>
      ads.requests.some(
        (r) => r.type === 'SDS' && r.resource_names.join() === 'admin-cert,admin-cert-cacert,shop-cert',
      ),
    'SDS subscription for the listener secrets',
  );
  await eventually(() => proxy.listeners.ports.byListener.has('0.0.0.0_443'), 'listener bound');
  assert.equal(await handshakes(port, 'shop.example.com'), false);
  assert.ok(
    lines.some((l) => l.includes('listener warming') && l.includes('shop-cert')),
    lines.join('\n'),
  );

  ads.set('SDS', [
    certificateSecret('shop-cert', shop),
    certificateSecret('admin-cert', admin),
    caSecret('admin-cert-cacert'),
  ]);
  await ads.waitForAck('SDS');
  await eventually(() => lines.some((l) => l.includes('listener active')), 'listener active');

  const h1 = await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem });
  assert.equal(h1.status, 200);
  assert.equal(h1.serverCommonName, 'shop');
  assert.equal(h1.alpn, 'http/1.1');
  const seen = JSON.parse(h1.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  const h2 = await h2Get(port, { servername: 'shop.example.com', ca: ca.certPem });
  assert.equal(h2.status, 200);
  assert.equal(h2.alpn, 'h2');

  // SNI picks the chain (and its certificate); a name no chain has is closed.
  assert.equal(await handshakes(port, 'other.example.org'), false);
  // MUTUAL: no client certificate, no connection; one signed by the CA gets through.
  assert.equal(await handshakes(port, 'admin.example.com'), false);
  const mutual = await httpsGet(port, {
    servername: 'admin.example.com',
    ca: ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
  });
  assert.equal(mutual.status, 200);
  assert.equal(mutual.serverCommonName, 'admin');

  // Rotation: new connections get the new certificate; an open connection keeps working.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const before = await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem, agent });
  assert.equal(before.serverCommonName, 'shop');
  const rotated = issueCertificate({ commonName: 'shop v2', dnsNames: ['shop.example.com'], issuer: ca });
  ads.set('SDS', [
    certificateSecret('shop-cert', rotated),
    certificateSecret('admin-cert', admin),
    caSecret('admin-cert-cacert'),
  ]);
  await ads.waitForAck('SDS');
  await eventually(
    async () =>
      (await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem })).serverCommonName ===
      'shop v2',
    'rotated certificate served',
  );
  const reused = await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem, agent });
  assert.equal(reused.status, 200);
  assert.equal(reused.serverCommonName, 'shop', 'the kept-alive connection still has its handshake');

  // A key that does not match is NACKed with the field; the rotated certificate keeps serving.
  ads.set('SDS', [
    certificateSecret('shop-cert', rotated, shop.keyPem),
    certificateSecret('admin-cert', admin),
    caSecret('admin-cert-cacert'),
  ]);
  await ads.waitFor(() => ads.nacks('SDS').length === 1, 'SDS NACK');
  assert.equal(
    ads.nacks('SDS')[0]?.error_detail?.message,
    'SDS update "3" rejected: Secret "shop-cert".tls_certificate.private_key: the private key does not match the certificate (CN=shop v2)',
  );
  assert.equal(
    (await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem })).serverCommonName,
    'shop v2',
  );

  // The admin dump shows secrets as Envoy does: certificates, private keys redacted.
  const dump = await request(proxy.adminPort, { path: '/config_dump' });
  assert.ok(
    !dump.body.includes('PRIVATE KEY') && !dump.body.includes(Buffer.from(rotated.keyPem).toString('base64')),
  );
  type Loose = ReturnType<typeof JSON.parse>;
  const secrets: Loose = dump
    .json<{ configs: Loose[] }>()
    .configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump');
  const byName = new Map<string, Loose>(
    secrets.dynamicActiveSecrets.map((s: Loose): [string, Loose] => [String(s.name), s.secret]),
  );
  assert.equal(byName.get('shop-cert').tlsCertificate.privateKey.inlineString, '[redacted]');
  assert.equal(
    byName.get('shop-cert').tlsCertificate.certificateChain.inlineBytes,
    Buffer.from(rotated.certPem).toString('base64'),
  );
  assert.equal(
    byName.get('admin-cert-cacert').validationContext.trustedCa.inlineBytes,
    Buffer.from(ca.certPem).toString('base64'),
  );
});

function chainWith(serverNames: string[], ctx: object): object {
  const chain = tlsChain(serverNames, 'unused') as { transport_socket: object };
  return {
    ...chain,
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: packAny(TYPE.downstreamTls, ctx),
    },
  };
}

const sds = (name: string) => ({ name, sds_config: { ads: {} } });

function clientTlsListener(port: number, adminCert: string): object {
  return {
    ...gatewayListener(port),
    filter_chains: [
      // MUTUAL, and the client certificate must name good.client.
      chainWith(['admin.example.com'], {
        common_tls_context: {
          tls_certificate_sds_secret_configs: [sds(adminCert)],
          combined_validation_context: {
            default_validation_context: { match_subject_alt_names: [{ exact: 'good.client' }] },
            validation_context_sds_secret_config: sds('client-ca'),
          },
          alpn_protocols: ['http/1.1'],
        },
        require_client_certificate: { value: true },
      }),
      // OPTIONAL_MUTUAL: a client certificate is asked for, verified if sent, not required.
      chainWith(['shop.example.com'], {
        common_tls_context: {
          tls_certificate_sds_secret_configs: [sds('shop-cert')],
          validation_context_sds_secret_config: sds('client-ca'),
          alpn_protocols: ['http/1.1'],
        },
      }),
    ],
  };
}

test('gateway TLS: client SANs enforced, OPTIONAL_MUTUAL, the previous certificate serves while a new one warms, SDS unsubscribed', async (t) => {
  const backend = await startBackend('shop');
  const port = await freePort();
  const ads = await FakeAds.start();
  ads.set('CDS', [edsCluster(C)]);
  ads.set('EDS', [endpoints(C, [{ port: backend.port }])]);
  ads.set('LDS', [clientTlsListener(port, 'admin-cert')]);
  ads.set('RDS', [routeConfig('http.443', [virtualHost('shop', ['*'], [routeTo(C)])])]);
  ads.set('SDS', [
    certificateSecret('shop-cert', shop),
    certificateSecret('admin-cert', admin),
    caSecret('client-ca'),
  ]);
  const proxy = await startProxy(ads, {
    bindListeners: [port],
    logger: memoryLogger().logger,
    bootstrap: {
      nodeId: 'router~127.0.0.1~gateway.istio-system~istio-system.svc.cluster.local',
      cluster: 'gateway.istio-system',
      mode: 'gateway',
      namespace: 'istio-system',
      workloadName: 'gateway',
      labels: { istio: 'ingressgateway' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
  });
  t.after(async () => {
    await proxy.stop(100);
    await ads.close();
    await backend.close();
  });
  const good = issueCertificate({ commonName: 'good', dnsNames: ['good.client'], issuer: ca });
  const bad = issueCertificate({ commonName: 'bad', dnsNames: ['bad.client'], issuer: ca });
  const stranger = issueCertificate({ commonName: 'stranger', dnsNames: ['good.client'] });
  await eventually(
    async () =>
      (await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem }).catch(() => undefined))
        ?.status === 200,
    'listener active',
  );
  const withCert = (servername: string, cert: TestCertificate) => ({
    servername,
    ca: ca.certPem,
    cert: cert.certPem,
    key: cert.keyPem,
  });

  // SANs: a CA-signed certificate whose SAN does not match is refused; a matching one served.
  assert.equal(await handshakes(port, 'admin.example.com', { cert: bad.certPem, key: bad.keyPem }), false);
  assert.equal(await handshakes(port, 'admin.example.com', { cert: good.certPem, key: good.keyPem }), true);
  assert.equal((await httpsGet(port, withCert('admin.example.com', good))).status, 200);

  // OPTIONAL_MUTUAL: no certificate is fine; one from another CA is not.
  assert.equal((await httpsGet(port, { servername: 'shop.example.com', ca: ca.certPem })).status, 200);
  assert.equal((await httpsGet(port, withCert('shop.example.com', good))).status, 200);
  assert.equal(
    await handshakes(port, 'shop.example.com', { cert: stranger.certPem, key: stranger.keyPem }),
    false,
  );

  // A new certificate name that has not arrived: the previous certificate keeps serving...
  ads.set('LDS', [clientTlsListener(port, 'admin-cert-v2')]);
  await ads.waitForAck('LDS');
  await ads.waitFor(
    () => ads.requests.some((r) => r.type === 'SDS' && r.resource_names.includes('admin-cert-v2')),
    'SDS subscription for the new certificate',
  );
  const kept = await httpsGet(port, withCert('admin.example.com', good));
  assert.equal(kept.status, 200);
  assert.equal(kept.serverCommonName, 'admin');
  assert.equal(await handshakes(port, 'admin.example.com', { cert: bad.certPem, key: bad.keyPem }), false);
  // ...until it does.
  const adminV2 = issueCertificate({ commonName: 'admin v2', dnsNames: ['admin.example.com'], issuer: ca });
  ads.set('SDS', [
    certificateSecret('shop-cert', shop),
    certificateSecret('admin-cert-v2', adminV2),
    caSecret('client-ca'),
  ]);
  await ads.waitForAck('SDS');
  assert.equal((await httpsGet(port, withCert('admin.example.com', good))).serverCommonName, 'admin v2');

  // The last TLS listener gone: SDS is unsubscribed (an empty list), not left standing.
  ads.set('LDS', []);
  await ads.waitForAck('LDS');
  await ads.waitFor(
    () => ads.requests.some((r) => r.type === 'SDS' && r.resource_names.length === 0),
    'SDS request with no names',
  );
  await ads.waitForAck('SDS');
});
