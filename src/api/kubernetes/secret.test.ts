import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { issueCertificate } from '../../core/testing/certificates.js';
import { parseAndValidate } from '../parse.js';
import { manifestOf, shownResource, validateResource } from '../validate.js';
import { REDACTED, tlsCredential, type SecretSpec } from './secret.js';

const ca = issueCertificate({ commonName: 'Test CA', ca: true });
const shop = issueCertificate({ commonName: 'shop', dnsNames: ['shop.example.com'], issuer: ca });
const other = issueCertificate({ commonName: 'other', keyType: 'rsa' });
const b64 = (s: string) => Buffer.from(s).toString('base64');

function tlsSecret(data: Record<string, string>, extra = ''): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${v}`);
  return `apiVersion: v1
kind: Secret
metadata: { name: shop-cert, namespace: istio-system }
type: kubernetes.io/tls
${extra}data:
${lines.join('\n')}
`;
}

function problems(yaml: string): string[] {
  return parseAndValidate(yaml, 'secret.yaml').flatMap((d) =>
    d.problems.map((p) => `${p.severity}: ${formatProblem(p)}`),
  );
}

test('a kubernetes.io/tls Secret is read as written: data beside metadata, key matching its certificate', () => {
  const [doc] = parseAndValidate(
    tlsSecret({ 'tls.crt': b64(shop.certPem), 'tls.key': b64(shop.keyPem), 'ca.crt': b64(ca.certPem) }),
    'secret.yaml',
  );
  assert.deepEqual(doc?.problems, []);
  const r = doc.resource!;
  assert.equal(r.kind, 'Secret');
  assert.equal(r.apiVersion, 'v1');
  assert.equal(r.metadata.namespace, 'istio-system');
  const credential = tlsCredential(r.spec as SecretSpec);
  assert.equal(credential?.certificateChain?.toString(), shop.certPem);
  assert.equal(credential?.privateKey?.toString(), shop.keyPem);
  assert.equal(credential?.caCertificates?.toString(), ca.certPem);
  // Memory stores validate the resource as they hold it (content under spec).
  assert.deepEqual(validateResource(r), []);
  // Written back out (trellis apply, the applied/ file) in the Kubernetes shape, no spec.
  const manifest = manifestOf(r);
  assert.equal(manifest.spec, undefined);
  assert.equal(manifest.type, 'kubernetes.io/tls');
  assert.equal((manifest.data as Record<string, string>)['tls.key'], b64(shop.keyPem));
});

test("stringData and Istio's generic layout (cert, key, cacert) are accepted", () => {
  const yaml = `apiVersion: v1
kind: Secret
metadata: { name: shop-cert }
type: Opaque
stringData:
  cert: |
${shop.certPem.replace(/^/gm, '    ')}
  key: |
${shop.keyPem.replace(/^/gm, '    ')}
data:
  cacert: ${b64(ca.certPem)}
`;
  const [doc] = parseAndValidate(yaml, 'generic.yaml');
  assert.deepEqual(doc?.problems, []);
  const credential = tlsCredential(doc.resource!.spec as SecretSpec);
  assert.equal(credential?.certificateChain?.toString().trim(), shop.certPem.trim());
  assert.equal(credential?.caCertificates?.toString(), ca.certPem);
});

test('bad credentials are rejected with the field that holds them, and no key material in the message', () => {
  assert.deepEqual(problems(tlsSecret({ 'tls.crt': b64(shop.certPem), 'tls.key': b64(other.keyPem) })), [
    'error: data.tls.key: the private key does not match the certificate (CN=shop)',
  ]);
  assert.deepEqual(
    problems(tlsSecret({ 'tls.crt': b64('not a certificate'), 'tls.key': b64(shop.keyPem) })),
    ['error: data.tls.crt: no PEM certificate (expected "-----BEGIN CERTIFICATE-----")'],
  );
  assert.deepEqual(problems(tlsSecret({ 'tls.crt': b64(shop.keyPem), 'tls.key': b64(shop.keyPem) })), [
    'error: data.tls.crt: holds a private key where a PEM certificate is expected',
  ]);
  const corrupt = shop.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
  const [bad] = problems(tlsSecret({ 'tls.crt': b64(corrupt), 'tls.key': b64(shop.keyPem) }));
  assert.match(bad ?? '', /^error: data\.tls\.crt: the certificate is not valid X\.509 \(/);
  assert.deepEqual(problems(tlsSecret({ 'tls.crt': 'not*base64', 'tls.key': b64(shop.keyPem) })), [
    'error: data.tls.crt: not valid base64 (data values are base64; use stringData for plain text)',
  ]);
  assert.deepEqual(problems(tlsSecret({ 'tls.crt': b64(shop.certPem) })), [
    'error: data.tls.key: required for type kubernetes.io/tls',
    'error: data.tls.key: required with data.tls.crt (a certificate and its private key go together)',
  ]);
  for (const line of problems(tlsSecret({ 'tls.crt': b64(shop.certPem), 'tls.key': b64(other.keyPem) })))
    assert.ok(!line.includes('PRIVATE KEY') && !line.includes(b64(other.keyPem).slice(0, 20)));
});

test('a key pasted where a map belongs is not quoted back in the error', () => {
  const yaml = `apiVersion: v1
kind: Secret
metadata: { name: shop-cert, namespace: istio-system }
type: kubernetes.io/tls
stringData: ${JSON.stringify(shop.keyPem)}
data:
  tls.crt: ${b64(shop.certPem)}
  tls.key: [${JSON.stringify(shop.keyPem)}]
`;
  const lines = problems(yaml);
  assert.ok(lines.includes('error: stringData: expected a map, got a string'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('error: data.tls.key: expected a string, got a list')));
  for (const line of lines) assert.ok(!line.includes('PRIVATE KEY'), line);
});

test('an expired certificate is a warning (Envoy serves it; clients decide)', () => {
  const old = issueCertificate({
    commonName: 'old',
    notBefore: new Date(Date.UTC(2020, 0, 1)),
    notAfter: new Date(Date.UTC(2021, 0, 1)),
  });
  const [line, ...rest] = problems(tlsSecret({ 'tls.crt': b64(old.certPem), 'tls.key': b64(old.keyPem) }));
  assert.deepEqual(rest, []);
  assert.match(
    line ?? '',
    /^warning: data\.tls\.crt: the certificate \(CN=old\) expired on Jan {2}1 00:00:00 2021 GMT$/,
  );
});

test('what leaves the store is redacted: keys become [redacted], certificates stay', () => {
  const [doc] = parseAndValidate(
    tlsSecret({ 'tls.crt': b64(shop.certPem), 'tls.key': b64(shop.keyPem) }),
    'secret.yaml',
  );
  const shown = shownResource(doc!.resource!);
  assert.deepEqual(shown.data, { 'tls.crt': b64(shop.certPem), 'tls.key': REDACTED });
  assert.equal(JSON.stringify(shown).includes(b64(shop.keyPem)), false);
  // Re-applying what `trellis get -o yaml` printed says why it cannot work.
  assert.deepEqual(problems(tlsSecret({ 'tls.crt': b64(shop.certPem), 'tls.key': `"${REDACTED}"` })), [
    'error: data.tls.key: holds the placeholder `trellis get` prints instead of secret values; apply the original file',
  ]);
});

test('other core kinds in the same file (ConfigMap, Service) are skipped with a warning, not errors', () => {
  const yaml = `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { a: b }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Secret
metadata: { name: password }
stringData: { password: hunter2 }
`;
  assert.deepEqual(problems(yaml), [
    'warning: kind: skipped: ConfigMap (v1) is not a resource Trellis reads',
    'warning: kind: skipped: Service (v1) is not a resource Trellis reads',
    'warning: holds no TLS credential (tls.crt and tls.key, or cert and key, or a CA in ca.crt or cacert); gateways cannot use it',
  ]);
});

test('unknown top-level fields and a Secret under spec are errors', () => {
  const yaml = `apiVersion: v1
kind: Secret
metadata: { name: shop-cert }
spec: { data: {} }
`;
  assert.deepEqual(problems(yaml), [
    'error: spec: unknown field; allowed: apiVersion, kind, metadata, type, data, stringData, immutable',
    'warning: holds no TLS credential (tls.crt and tls.key, or cert and key, or a CA in ca.crt or cacert); gateways cannot use it',
  ]);
  assert.deepEqual(problems(yaml.replace('apiVersion: v1', 'apiVersion: v2')), [
    'error: apiVersion: Secret does not exist in version "v2"; expected one of v1',
  ]);
});
