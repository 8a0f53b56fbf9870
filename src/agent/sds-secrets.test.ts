import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentVersion, parseSecretName, workloadSecret } from './sds-secrets.js';

const cert = {
  certChainPem: 'CHAIN',
  privateKeyPem: 'KEY',
  rootCertsPem: 'ROOTS',
  identity: 'spiffe://cluster.local/ns/default/sa/web',
  notBefore: new Date(0),
  notAfter: new Date(1),
};

test("resource names: Istio's default/ROOTCA and file-cert:/file-root:, everything else refused with why", () => {
  const cases: [string, ReturnType<typeof parseSecretName>['kind'], RegExp | object | undefined][] = [
    ['default', 'workload', undefined],
    ['ROOTCA', 'root', undefined],
    [
      'file-cert:/etc/certs/cert.pem~/etc/certs/key.pem',
      'file-cert',
      { certFile: '/etc/certs/cert.pem', keyFile: '/etc/certs/key.pem' },
    ],
    ['file-root:/etc/certs/root.pem', 'file-root', { rootFile: '/etc/certs/root.pem' }],
    ['rootca', 'unknown', /serves default, ROOTCA, file-cert:CERT~KEY, file-root:ROOT/],
    ['Default', 'unknown', /serves default/],
    ['kubernetes://gateway-cert', 'unknown', /serves default/],
    ['', 'unknown', /serves default/],
    ['file-cert:/only/cert.pem', 'unknown', /two absolute paths joined by ~/],
    ['file-cert:/a~/b~/c', 'unknown', /two absolute paths/],
    ['file-cert:cert.pem~/key.pem', 'unknown', /absolute/],
    ['file-cert:/cert.pem~', 'unknown', /absolute/],
    ['file-root:root.pem', 'unknown', /an absolute path/],
    ['file-root:', 'unknown', /an absolute path/],
  ];
  for (const [name, kind, detail] of cases) {
    const got = parseSecretName(name);
    assert.equal(got.kind, kind, name);
    if (detail instanceof RegExp) assert.match(got.kind === 'unknown' ? got.reason : '', detail, name);
    else if (detail) assert.deepEqual({ ...got, kind: undefined }, { ...detail, kind: undefined }, name);
  }
});

test('versions follow contents only', () => {
  assert.equal(contentVersion(['a', 'b']), contentVersion(['a', 'b']));
  assert.notEqual(contentVersion(['a', 'b']), contentVersion(['ab']));
  assert.notEqual(contentVersion(['a']), contentVersion(['b']));
  assert.match(contentVersion([]), /^[0-9a-f]{16}$/);
});

test("`default` is Envoy's tls_certificate (chain and key), `ROOTCA` its validation_context; nothing else", () => {
  assert.deepEqual(workloadSecret('default', cert), {
    name: 'default',
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from('CHAIN') },
      private_key: { inline_bytes: Buffer.from('KEY') },
    },
  });
  assert.deepEqual(workloadSecret('ROOTCA', cert), {
    name: 'ROOTCA',
    validation_context: { trusted_ca: { inline_bytes: Buffer.from('ROOTS') } },
  });
  assert.equal(workloadSecret('file-root:/x', cert), undefined);
  assert.equal(workloadSecret('rootca', cert), undefined);
});
