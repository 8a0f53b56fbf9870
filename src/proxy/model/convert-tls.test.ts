import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../core/testing/certificates.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { XdsResourceCache } from '../xds-client/resource-cache.js';

const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', issuer: ca, keyType: 'rsa' });

function respond(cache: XdsResourceCache, typeUrl: string, resources: object[], version = '1') {
  return cache.handleResponse({
    version_info: version,
    type_url: typeUrl,
    nonce: version,
    resources: resources.map((r) => packAny(typeUrl, r)),
  });
}

test('SDS secrets: PEM validated on arrival, NACKed with the resource and field, never the bytes', () => {
  const cache = new XdsResourceCache(() => 0);
  cache.setSubscription('SDS', ['shop-cert', 'ca', 'bad']);
  const ok = respond(cache, TYPE.secret, [
    {
      name: 'shop-cert',
      tls_certificate: {
        certificate_chain: { inline_bytes: Buffer.from(shop.certPem + ca.certPem) },
        private_key: { inline_bytes: Buffer.from(shop.keyPem) },
      },
    },
    { name: 'ca', validation_context: { trusted_ca: { inline_string: ca.certPem } } },
  ]);
  assert.equal(ok.kind, 'ack');
  assert.deepEqual([...cache.snapshot().secrets.keys()].sort(), ['ca', 'shop-cert']);
  assert.equal(cache.snapshot().secrets.get('ca')?.kind, 'validation_context');

  const bad = respond(
    cache,
    TYPE.secret,
    [
      {
        name: 'shop-cert',
        tls_certificate: {
          certificate_chain: { filename: '/etc/certs/cert.pem' },
          private_key: { inline_string: shop.keyPem },
        },
      },
      { name: 'ca', validation_context: { trusted_ca: { inline_string: shop.keyPem } } },
      {
        name: 'bad',
        tls_certificate: {
          certificate_chain: { inline_string: shop.certPem },
          private_key: { inline_string: 'x' },
        },
      },
    ],
    '2',
  );
  assert.equal(bad.kind, 'nack');
  assert.deepEqual(bad.kind === 'nack' ? bad.problems : [], [
    'Secret "shop-cert".tls_certificate.certificate_chain: only inline_bytes and inline_string are supported (the proxy reads no files)',
    'Secret "ca".validation_context.trusted_ca: holds a private key where a PEM certificate is expected',
    'Secret "bad".tls_certificate.private_key: no PEM private key (expected "-----BEGIN PRIVATE KEY-----")',
  ]);
  // The last good secrets stay.
  assert.equal(cache.snapshot().secrets.get('ca')?.kind, 'validation_context');
});

test('listener TLS: SDS names become the SDS subscription; unsupported TLS settings are NACKed', () => {
  const cache = new XdsResourceCache(() => 0);
  const chain = (ctx: object) => ({
    filter_chain_match: { server_names: ['Shop.Example.com'], transport_protocol: 'tls' },
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: packAny(TYPE.hcm, {
          stat_prefix: 'gw',
          rds: { route_config_name: 'http.443', config_source: { ads: {} } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
        }),
      },
    ],
    transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: packAny(TYPE.downstreamTls, ctx) },
  });
  const listener = (ctx: object) => ({
    name: '0.0.0.0_443',
    address: { socket_address: { address: '0.0.0.0', port_value: 443 } },
    filter_chains: [chain(ctx)],
  });
  const ok = respond(cache, TYPE.listener, [
    listener({
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: 'shop-cert', sds_config: { ads: {} } }],
        validation_context_sds_secret_config: { name: 'shop-cert-cacert', sds_config: { ads: {} } },
        alpn_protocols: ['h2', 'http/1.1'],
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
      },
      require_client_certificate: { value: true },
    }),
  ]);
  assert.equal(ok.kind, 'ack');
  assert.deepEqual(cache.wantedSecretNames(), ['shop-cert', 'shop-cert-cacert']);
  const c = cache.snapshot().listeners.get('0.0.0.0_443')?.filterChains[0];
  assert.deepEqual(c?.serverNames, ['shop.example.com']);
  assert.deepEqual(c?.tls, {
    certificateSecrets: [{ name: 'shop-cert', source: 'ads' }],
    validationSecret: { name: 'shop-cert-cacert', source: 'ads' },
    requireClientCertificate: true,
    alpn: ['h2', 'http/1.1'],
    minVersion: 'TLSv1.2',
  });

  const bad = respond(
    cache,
    TYPE.listener,
    [
      listener({
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_string: shop.certPem } }],
        },
        require_client_certificate: { value: true },
      }),
    ],
    '2',
  );
  assert.deepEqual(bad.kind === 'nack' ? bad.problems : [], [
    'Listener "0.0.0.0_443".filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates: field is not supported by the Trellis proxy',
    'Listener "0.0.0.0_443".filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs: a server certificate (over SDS) is required',
    'Listener "0.0.0.0_443".filter_chains[0].transport_socket.typed_config.require_client_certificate: requires validation_context_sds_secret_config (the CA client certificates are checked against)',
  ]);
});

function tlsListener(ctx: object): object {
  return {
    name: '0.0.0.0_443',
    address: { socket_address: { address: '0.0.0.0', port_value: 443 } },
    filter_chains: [
      {
        filter_chain_match: { transport_protocol: 'tls' },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: packAny(TYPE.hcm, {
              stat_prefix: 'gw',
              rds: { route_config_name: 'http.443', config_source: { ads: {} } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
            }),
          },
        ],
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: packAny(TYPE.downstreamTls, ctx),
        },
      },
    ],
  };
}

const P = 'Listener "0.0.0.0_443".filter_chains[0].transport_socket.typed_config.common_tls_context';

test('listener TLS: cipher suites OpenSSL refuses and min above max are NACKed with the field', () => {
  const cache = new XdsResourceCache(() => 0);
  const params = (tls_params: object) =>
    tlsListener({
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: 'shop-cert', sds_config: { ads: {} } }],
        tls_params,
      },
    });
  const ok = respond(cache, TYPE.listener, [
    params({
      cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384'],
      tls_minimum_protocol_version: 'TLSv1_2',
      tls_maximum_protocol_version: 'TLSv1_3',
    }),
  ]);
  assert.equal(ok.kind, 'ack');
  const bad = respond(
    cache,
    TYPE.listener,
    [
      params({
        cipher_suites: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'NOT-A-CIPHER'],
        tls_minimum_protocol_version: 'TLSv1_3',
        tls_maximum_protocol_version: 'TLSv1_2',
      }),
    ],
    '2',
  );
  assert.equal(bad.kind, 'nack');
  const problems = bad.kind === 'nack' ? bad.problems : [];
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(
    problems[0]!,
    /^.*\.tls_params\.cipher_suites\[1\]: cipher suite "NOT-A-CIPHER" is not supported/,
  );
  assert.ok(problems[0]!.startsWith(P));
  assert.equal(
    problems[1],
    `${P}.tls_params.tls_minimum_protocol_version: TLSv1.3 is above tls_maximum_protocol_version TLSv1.2`,
  );
  // The last good listener keeps its parameters.
  assert.equal(cache.snapshot().listeners.get('0.0.0.0_443')?.filterChains[0]?.tls?.maxVersion, 'TLSv1.3');
});

test('listener TLS: combined validation context SANs, SPKI and hashes reach the config; bad ones are NACKed', () => {
  const cache = new XdsResourceCache(() => 0);
  const combined = (default_validation_context: object) =>
    tlsListener({
      common_tls_context: {
        tls_certificate_sds_secret_configs: [{ name: 'admin-cert', sds_config: { ads: {} } }],
        combined_validation_context: {
          default_validation_context,
          validation_context_sds_secret_config: { name: 'admin-cert-cacert', sds_config: { ads: {} } },
        },
      },
    });
  const hash =
    'DF:6F:F7:2F:E9:11:65:21:26:8F:6F:2D:D4:96:6F:51:DF:47:88:83:11:E2:80:D9:2F:57:B3:53:7C:CE:84:52';
  const ok = respond(cache, TYPE.listener, [
    combined({
      match_subject_alt_names: [{ exact: 'client.example.com' }],
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }],
      verify_certificate_spki: ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A='],
      verify_certificate_hash: [hash],
    }),
  ]);
  assert.equal(ok.kind, 'ack', ok.kind === 'nack' ? ok.problems.join('\n') : '');
  assert.deepEqual(cache.wantedSecretNames(), ['admin-cert', 'admin-cert-cacert']);
  const t = cache.snapshot().listeners.get('0.0.0.0_443')?.filterChains[0]?.tls;
  assert.deepEqual(t?.validationSecret, { name: 'admin-cert-cacert', source: 'ads' });
  assert.deepEqual(
    t?.subjectAltNames?.map((m) => [m.type, m.matcher.exact ?? m.matcher.prefix]),
    [
      ['URI', 'spiffe://cluster.local/'],
      [undefined, 'client.example.com'],
    ],
  );
  assert.deepEqual(t?.spkiSha256, ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A=']);
  assert.deepEqual(t?.certificateSha256, [hash.replaceAll(':', '').toLowerCase()]);

  const bad = respond(
    cache,
    TYPE.listener,
    [
      combined({
        match_subject_alt_names: [{ safe_regex: { regex: '' } }],
        verify_certificate_spki: ['short'],
        verify_certificate_hash: ['abc'],
      }),
    ],
    '2',
  );
  const dv = `${P}.combined_validation_context.default_validation_context`;
  assert.deepEqual(bad.kind === 'nack' ? bad.problems : [], [
    `${dv}.match_subject_alt_names[0].safe_regex.regex: regex must not be empty`,
    `${dv}.verify_certificate_spki[0]: expected the base64 SHA-256 of a SubjectPublicKeyInfo`,
    `${dv}.verify_certificate_hash[0]: expected the hex SHA-256 of a certificate (colons allowed)`,
  ]);
});
