/**
 * SDS for gateways: Kubernetes Secrets in the gateway proxy's namespace, served under the names
 * its Gateway servers reference; pushes scoped to the proxies a Secret change affects; and the
 * SNI filter chains of several TLS servers on one port.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAndValidate } from '../../api/parse.js';
import type { GatewaySpec } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import { issueCertificate } from '../../core/testing/certificates.js';
import { SHORT_TYPE, TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from './index.js';
import { checkEncodes, config, proxy, registry, res, type Loose } from './testkit.js';

const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
const shopInDefault = issueCertificate({ commonName: 'shop (default namespace)' });
const admin = issueCertificate({ commonName: 'admin', dnsNames: ['admin.example.com'], issuer: ca });
const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(namespace: string, name: string, data: Record<string, string>): Resource {
  const yaml = `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${namespace} }
data:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: ${b64(v)}`)
  .join('\n')}
`;
  const [doc] = parseAndValidate(yaml, 'secret.yaml');
  assert.ok(doc?.resource, JSON.stringify(doc?.problems));
  return doc.resource;
}

const GATEWAY: GatewaySpec = {
  selector: { istio: 'ingressgateway' },
  servers: [
    {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['shop.example.com'],
      tls: { mode: 'SIMPLE', credentialName: 'shop-cert' },
    },
    {
      port: { number: 443, name: 'https-admin', protocol: 'HTTPS' },
      hosts: ['admin.example.com'],
      tls: { mode: 'MUTUAL', credentialName: 'admin-cert', minProtocolVersion: 'TLSV1_2' },
    },
  ],
};

const SECRETS = [
  secret('ingress', 'shop-cert', { 'tls.crt': shop.certPem, 'tls.key': shop.keyPem }),
  secret('default', 'shop-cert', { 'tls.crt': shopInDefault.certPem, 'tls.key': shopInDefault.keyPem }),
  // The CA for admin-cert-cacert comes from admin-cert itself (no admin-cert-cacert Secret).
  secret('ingress', 'admin-cert', { cert: admin.certPem, key: admin.keyPem, cacert: ca.certPem }),
  secret('ingress', 'unrelated', { 'tls.crt': shop.certPem, 'tls.key': shop.keyPem }),
];

const ROUTER: Partial<ProxyNode> = {
  type: 'router',
  labels: { istio: 'ingressgateway' },
  namespace: 'ingress',
};

function push(resources: Resource[], previous?: PushContext, revision = 1): PushContext {
  return buildPushContext(config(resources, revision), registry([]), {}, previous);
}

function sds(p: PushContext, node: Partial<ProxyNode>, names?: string[]): Map<string, Loose> {
  const out = generate(p, proxy(node), TYPE.secret, names);
  checkEncodes(TYPE.secret, out);
  return out as Map<string, Loose>;
}

const pem = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test('a gateway gets the Secrets its servers name, from its own namespace, and the CA as NAME-cacert', () => {
  const p = push([res('Gateway', 'ingress', 'public', GATEWAY), ...SECRETS]);
  const out = sds(p, ROUTER);
  assert.deepEqual([...out.keys()], ['admin-cert', 'admin-cert-cacert', 'shop-cert']);
  const shopSecret = out.get('shop-cert');
  assert.equal(pem(shopSecret.tls_certificate.certificate_chain.inline_bytes), shop.certPem);
  assert.equal(pem(shopSecret.tls_certificate.private_key.inline_bytes), shop.keyPem);
  assert.equal(pem(out.get('admin-cert-cacert').validation_context.trusted_ca.inline_bytes), ca.certPem);
  // Only what was asked for, and never a Secret no server references.
  assert.deepEqual([...sds(p, ROUTER, ['shop-cert', 'unrelated']).keys()], ['shop-cert']);
  // A gateway in another namespace reads that namespace's Secrets.
  const elsewhere = sds(p, { ...ROUTER, namespace: 'default' });
  assert.deepEqual([...elsewhere.keys()], ['shop-cert']);
  assert.equal(
    pem(elsewhere.get('shop-cert').tls_certificate.certificate_chain.inline_bytes),
    shopInDefault.certPem,
  );
  // Sidecars get no gateway credentials.
  assert.equal(sds(p, { type: 'sidecar', namespace: 'ingress' }).size, 0);
});

test('a Secret named NAME-cacert holds the CA when it exists', () => {
  const other = issueCertificate({ commonName: 'Other CA', ca: true });
  const p = push([
    res('Gateway', 'ingress', 'public', GATEWAY),
    ...SECRETS,
    secret('ingress', 'admin-cert-cacert', { 'ca.crt': other.certPem }),
  ]);
  assert.equal(
    pem(sds(p, ROUTER).get('admin-cert-cacert').validation_context.trusted_ca.inline_bytes),
    other.certPem,
  );
});

test('a missing Secret is left out (the proxy keeps that listener warming)', () => {
  const p = push([res('Gateway', 'ingress', 'public', GATEWAY)]);
  assert.equal(sds(p, ROUTER).size, 0);
});

test('a Secret change pushes SDS only, only to gateways in its namespace that name it', () => {
  const gw = res('Gateway', 'ingress', 'public', GATEWAY);
  const before = push([gw, ...SECRETS], undefined, 1);
  const rotated = issueCertificate({ commonName: 'shop v2', issuer: ca });
  const replace = (list: Resource[], ns: string, name: string, r: Resource) =>
    list.map((s) => (s.metadata.namespace === ns && s.metadata.name === name ? r : s));
  const rotatedSecrets = replace(
    SECRETS,
    'ingress',
    'shop-cert',
    secret('ingress', 'shop-cert', { 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem }),
  );
  const after = push([gw, ...rotatedSecrets], before, 2);
  const short = (s: ReadonlySet<string>) =>
    [...s].map((t) => SHORT_TYPE[t as keyof typeof SHORT_TYPE]).sort();
  assert.deepEqual(short(affectedTypes(before, after, proxy(ROUTER))), ['SDS']);
  assert.deepEqual(short(affectedTypes(before, after, proxy({ ...ROUTER, namespace: 'default' }))), []);
  assert.deepEqual(short(affectedTypes(before, after, proxy({ namespace: 'ingress' }))), []);
  assert.equal(
    pem(sds(after, ROUTER).get('shop-cert').tls_certificate.certificate_chain.inline_bytes),
    rotated.certPem,
  );
  // A Secret nobody references changes nothing for anyone.
  const unrelated = push(
    [
      gw,
      ...replace(
        rotatedSecrets,
        'ingress',
        'unrelated',
        secret('ingress', 'unrelated', { 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem }),
      ),
    ],
    after,
    3,
  );
  assert.deepEqual(short(affectedTypes(after, unrelated, proxy(ROUTER))), []);
});

function chains(servers: GatewaySpec['servers']): Loose[] {
  const p = push([res('Gateway', 'ingress', 'public', { selector: { istio: 'ingressgateway' }, servers })]);
  const out = generate(p, proxy(ROUTER), TYPE.listener) as Map<string, Loose>;
  checkEncodes(TYPE.listener, out);
  return out.get('0.0.0.0_443').filter_chains as Loose[];
}

const https = (name: string, hosts: string[], credentialName = `${name}-cert`) => ({
  port: { number: 443, name, protocol: 'HTTPS' },
  hosts,
  tls: { mode: 'SIMPLE' as const, credentialName },
});

test('TLS servers on one port: SNI chains that never overlap; `*` matches any name', () => {
  const out = chains([
    https('a', ['ingress/a.example.com', 'b.example.com']),
    https('b', ['b.example.com', 'c.example.com']),
    https('c', ['a.example.com']),
    https('d', ['*.example.com', '*']),
    https('e', ['*']),
  ]);
  const sdsName = (c: Loose): string =>
    String(
      unpackAny<Loose>(c.transport_socket.typed_config as AnyMessage).common_tls_context
        .tls_certificate_sds_secret_configs[0].name,
    );
  assert.deepEqual(
    out.map((c): unknown[] => [c.filter_chain_match, sdsName(c)]),
    [
      [{ transport_protocol: 'tls', server_names: ['a.example.com', 'b.example.com'] }, 'a-cert'],
      // b.example.com already belongs to the first server; c (nothing left) gets no chain.
      [{ transport_protocol: 'tls', server_names: ['c.example.com'] }, 'b-cert'],
      // `*` among the hosts: any name, including clients that send no SNI; e is a duplicate.
      [{ transport_protocol: 'tls' }, 'd-cert'],
    ],
  );
});

test('minProtocolVersion and credentialNames reach the DownstreamTlsContext', () => {
  const [mutual] = chains([
    {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['admin.example.com'],
      tls: { mode: 'MUTUAL', credentialNames: ['admin-rsa', 'admin-ecdsa'], minProtocolVersion: 'TLSV1_2' },
    },
  ]);
  const ctx = unpackAny<Loose>(mutual.transport_socket.typed_config as AnyMessage);
  assert.deepEqual(
    ctx.common_tls_context.tls_certificate_sds_secret_configs.map((s: Loose) => String(s.name)),
    ['admin-rsa', 'admin-ecdsa'],
  );
  assert.equal(ctx.common_tls_context.validation_context_sds_secret_config.name, 'admin-rsa-cacert');
  assert.equal(ctx.common_tls_context.tls_params.tls_minimum_protocol_version, 'TLSv1_2');
  assert.deepEqual(ctx.require_client_certificate, { value: true });
});

test('OPTIONAL_MUTUAL: TLS with the client CA like MUTUAL, without require_client_certificate', () => {
  const servers: GatewaySpec['servers'] = [
    {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['admin.example.com'],
      tls: { mode: 'OPTIONAL_MUTUAL', credentialName: 'admin-cert' },
    },
  ];
  const [chain, ...rest] = chains(servers);
  assert.equal(rest.length, 0, 'no plain-text chain');
  assert.deepEqual(chain.filter_chain_match, {
    transport_protocol: 'tls',
    server_names: ['admin.example.com'],
  });
  const ctx = unpackAny<Loose>(chain.transport_socket.typed_config as AnyMessage);
  assert.equal(ctx.common_tls_context.validation_context_sds_secret_config.name, 'admin-cert-cacert');
  assert.equal(ctx.require_client_certificate, undefined);
  // SDS serves the certificate and the CA.
  const p = push([
    res('Gateway', 'ingress', 'public', { selector: { istio: 'ingressgateway' }, servers }),
    ...SECRETS,
  ]);
  assert.deepEqual([...sds(p, ROUTER).keys()], ['admin-cert', 'admin-cert-cacert']);
});

test('MUTUAL subjectAltNames, verifyCertificateSpki and verifyCertificateHash: a combined validation context', () => {
  const [mutual] = chains([
    {
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['admin.example.com'],
      tls: {
        mode: 'MUTUAL',
        credentialName: 'admin-cert',
        subjectAltNames: ['client.example.com', 'spiffe://cluster.local/ns/a/sa/b'],
        verifyCertificateSpki: ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A='],
        verifyCertificateHash: [
          'DF:6F:F7:2F:E9:11:65:21:26:8F:6F:2D:D4:96:6F:51:DF:47:88:83:11:E2:80:D9:2F:57:B3:53:7C:CE:84:52',
        ],
      },
    },
  ]);
  const common = unpackAny<Loose>(mutual.transport_socket.typed_config as AnyMessage).common_tls_context;
  assert.equal(common.validation_context_sds_secret_config, undefined);
  const combined = common.combined_validation_context;
  assert.equal(combined.validation_context_sds_secret_config.name, 'admin-cert-cacert');
  const v = combined.default_validation_context;
  assert.deepEqual(
    v.match_subject_alt_names.map((m: Loose) => String(m.exact)),
    ['client.example.com', 'spiffe://cluster.local/ns/a/sa/b'],
  );
  assert.deepEqual(v.verify_certificate_spki, ['NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A=']);
  assert.equal(v.verify_certificate_hash.length, 1);
});
