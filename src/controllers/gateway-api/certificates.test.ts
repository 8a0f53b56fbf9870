/**
 * Several certificateRefs on one listener (Istio's reading: up to two, one per key type, served
 * together so the proxy offers the one a client accepts): which are served and what the listener
 * says about the others. Bypass attempts: a ref into another namespace without a grant is never
 * served, whether or not its Secret exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../../api/networking/types.js';
import { derive, put } from './testing.js';

const secret = (name: string, ns = 'infra') => `---
apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${ns} }
type: Opaque
stringData: { note: the derivation checks that it exists }
`;
const gateway = (refs: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: ${refs} } }
`;

type ListenerStatus = { conditions: { type: string; status: string; reason: string; message: string }[] };
function result(yaml: string) {
  const out = derive(yaml);
  const listener = (put(out, 'KubernetesGateway')[0]!.status as { listeners: ListenerStatus[] })
    .listeners[0]!;
  const c = (type: string) => {
    const x = listener.conditions.find((k) => k.type === type)!;
    return `${x.status}/${x.reason}`;
  };
  const tls = (put(out, 'Gateway') as Gateway[])[0]?.spec.servers[0]?.tls;
  return {
    served: tls === undefined ? [] : (tls.credentialNames ?? [tls.credentialName!]),
    resolved: c('ResolvedRefs'),
    programmed: c('Programmed'),
    message: listener.conditions.find((k) => k.type === 'ResolvedRefs')!.message,
  };
}

test('certificateRefs: every valid one served, the others reported', () => {
  const rows: [string, string, string[], string, string][] = [
    ['one', '[{ name: rsa }]', ['rsa'], 'True/ResolvedRefs', 'True/Programmed'],
    [
      'two (RSA and ECDSA)',
      '[{ name: rsa }, { name: ec }]',
      ['rsa', 'ec'],
      'True/ResolvedRefs',
      'True/Programmed',
    ],
    [
      'one missing of two',
      '[{ name: rsa }, { name: gone }]',
      ['rsa'],
      'False/InvalidCertificateRef',
      'True/Programmed',
    ],
    [
      'a refused one of two',
      '[{ name: other, namespace: certs }, { name: ec }]',
      ['ec'],
      'False/RefNotPermitted',
      'True/Programmed',
    ],
    [
      'none valid',
      '[{ name: gone }, { kind: ConfigMap, name: rsa }]',
      [],
      'False/InvalidCertificateRef',
      'False/Invalid',
    ],
    [
      'three: more than a proxy serves',
      '[{ name: rsa }, { name: ec }, { name: rsa2 }]',
      [],
      'False/InvalidCertificateRef',
      'False/Invalid',
    ],
  ];
  const secrets = secret('rsa') + secret('ec') + secret('rsa2') + secret('other', 'certs');
  for (const [what, refs, served, resolved, programmed] of rows) {
    const r = result(gateway(refs) + secrets);
    assert.deepEqual([r.served, r.resolved, r.programmed], [served, resolved, programmed], what);
  }
});

test('a refused ref says which Secret and what grant is missing, never whether it exists', () => {
  const withSecret = result(gateway('[{ name: other, namespace: certs }]') + secret('other', 'certs'));
  const without = result(gateway('[{ name: other, namespace: certs }]'));
  assert.equal(withSecret.resolved, 'False/RefNotPermitted');
  assert.equal(withSecret.message, without.message, 'the same answer whether the Secret exists or not');
  assert.match(withSecret.message, /no ReferenceGrant in certs allows Gateways from infra/);
  assert.match(
    result(gateway('[{ name: rsa }, { name: ec }, { name: rsa2 }]')).message,
    /at most 2 certificates/,
  );
});

const GRANT = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: g, namespace: certs }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: infra }]
  to: [{ group: "", kind: Secret }]
`;

test("a granted ref from another namespace is served as a copy in the Gateway's namespace, once", () => {
  const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: a, port: 443, protocol: HTTPS, hostname: a.example.com, tls: { certificateRefs: [{ name: other, namespace: certs }, { name: ec }] } }
  - { name: b, port: 443, protocol: HTTPS, hostname: b.example.com, tls: { certificateRefs: [{ name: other, namespace: certs }] } }
${secret('other', 'certs')}${secret('ec')}${GRANT}`;
  const out = derive(yaml);
  const servers = (put(out, 'Gateway') as Gateway[]).map((g) => g.spec.servers[0]!.tls);
  assert.deepEqual(servers, [
    { mode: 'SIMPLE', credentialNames: ['gwapi.certs.other', 'ec'] },
    { mode: 'SIMPLE', credentialName: 'gwapi.certs.other' },
  ]);
  const copies = put(out, 'Secret');
  assert.deepEqual(
    copies.map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
    ['infra/gwapi.certs.other'],
  );
  // Without the grant, nothing of `certs` is copied.
  assert.deepEqual(put(derive(yaml.replace(GRANT, '')), 'Secret'), []);
});

test('a ref to something other than a core Secret says what a certificate must be', () => {
  for (const ref of ['{ kind: ConfigMap, name: rsa }', '{ group: example.com, kind: Secret, name: rsa }']) {
    const r = result(gateway(`[${ref}]`) + secret('rsa'));
    assert.equal(r.resolved, 'False/InvalidCertificateRef', ref);
    assert.match(r.message, /only Secrets \(group ""\) hold certificates/, ref);
  }
  const missing = result(gateway('[{ name: gone }, { name: gone2 }]'));
  assert.match(missing.message, /Secret infra\/gone not found; apply it .*; Secret infra\/gone2 not found/);
});

test('a terminating listener with options but no certificateRefs is not served and says why', () => {
  const out = derive(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: https, port: 443, protocol: HTTPS, tls: { options: { example.com/cert-source: vault } } }
`);
  const listener = (put(out, 'KubernetesGateway')[0]!.status as { listeners: ListenerStatus[] })
    .listeners[0]!;
  const resolved = listener.conditions.find((c) => c.type === 'ResolvedRefs')!;
  assert.equal(`${resolved.status}/${resolved.reason}`, 'False/InvalidCertificateRef');
  assert.match(resolved.message, /tls\.certificateRefs is empty/);
  assert.deepEqual(put(out, 'Gateway'), []);
});
