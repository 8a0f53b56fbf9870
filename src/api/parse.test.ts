import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatProblem, isTrellisError } from '../core/errors.js';
import { registerKind, registeredKinds } from './kinds.js';
import { loadFile, parseAndValidate } from './parse.js';

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;

function summary(text: string) {
  return parseAndValidate(text, 'f.yaml').map((d) => ({
    doc: d.source.doc,
    kind: d.resource?.kind,
    problems: d.problems.map((p) => `${p.severity}: ${formatProblem(p)}`),
  }));
}

test('multi-document YAML: each document on its own, empty ones skipped but counted', () => {
  const text = `# leading comment\n${REVIEWS}---\n# only a comment\n---\n${REVIEWS.replace('name: reviews', 'name: reviews-2\n  namespace: prod')}---\n`;
  const docs = parseAndValidate(text, 'f.yaml');
  assert.deepEqual(
    docs.map((d) => [d.source.doc, d.resource?.metadata.namespace, d.resource?.metadata.name]),
    [
      [1, 'default', 'reviews'],
      [3, 'prod', 'reviews-2'],
    ],
  );
  assert.deepEqual(docs[0]?.resource?.spec, {
    hosts: ['reviews'],
    http: [{ route: [{ destination: { host: 'reviews' } }] }],
  });
});

test('envelope problems have paths', () => {
  const cases: [string, string[]][] = [
    ['kind: VirtualService\nmetadata: {name: a}\nspec: {}\n', ['error: apiVersion: required']],
    ['apiVersion: networking.istio.io/v1\nmetadata: {name: a}\nspec: {}\n', ['error: kind: required']],
    [
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nspec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n',
      ['error: metadata: required; must hold at least name'],
    ],
    [
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {namespace: x}\nspec: {}\n',
      ['error: metadata.name: required'],
    ],
    [
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: Bad_Name}\nspec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n',
      [
        `error: metadata.name: "Bad_Name" is not a valid DNS-1123 subdomain: dot-separated lower-case labels of letters, digits and '-'`,
      ],
    ],
    [
      'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\nspec: {}\n',
      [
        'error: apiVersion: VirtualService does not exist in version "v2" of networking.istio.io; expected one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3',
      ],
    ],
    [
      'apiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata: {name: a}\nspec: {}\n',
      [
        // EnvoyFilter exists in v1alpha3 only, as Istio serves it.
        'error: apiVersion: EnvoyFilter does not exist in version "v1" of networking.istio.io; expected one of networking.istio.io/v1alpha3',
      ],
    ],
    [
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicies\nmetadata: {name: a}\nspec: {}\n',
      [
        'error: kind: unknown kind "AuthorizationPolicies" in security.istio.io; supported kinds: AuthorizationPolicy, PeerAuthentication, RequestAuthentication',
      ],
    ],
    ['apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {}\n', []],
    [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {}\n',
      ['warning: kind: skipped: Deployment (apps/v1) is not a resource Trellis reads'],
    ],
    [
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\n',
      ['error: spec: required'],
    ],
    ['- a\n- b\n', ['error: expected an object, got a list']],
    [
      'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec: {host: a}\nextra: 1\n',
      ['error: extra: unknown field; allowed: apiVersion, kind, metadata, spec, status'],
    ],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(summary(text)[0]?.problems, want, text);
  }
});

test('a document with errors has a ref but no resource; warnings keep the resource', () => {
  const bad = parseAndValidate(REVIEWS.replace('host: reviews', 'host: ""'), 'f.yaml')[0];
  assert.equal(bad?.resource, undefined);
  assert.deepEqual(bad?.ref, {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    namespace: 'default',
    name: 'reviews',
  });
  const warned = parseAndValidate(
    REVIEWS.replace(
      '    - destination: {host: reviews}',
      '    - destination: {host: a}\n      weight: 50\n    - destination: {host: b}\n      weight: 20',
    ),
    'f.yaml',
  )[0];
  assert.equal(warned?.problems[0]?.severity, 'warning');
  assert.equal(warned?.resource?.metadata.name, 'reviews');
});

test('YAML syntax errors give the line number and do not hide other documents', () => {
  const text = `${REVIEWS}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: [broken\nspec: {}\n---\n${REVIEWS}`;
  const s = summary(text);
  assert.equal(s.length, 3);
  assert.deepEqual(s[0]?.problems, []);
  assert.deepEqual(s[1]?.problems, [
    'error: line 15, column 1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
  assert.equal(s[2]?.kind, 'VirtualService');
});

test('duplicate keys are errors with a line number', () => {
  const s = summary('apiVersion: networking.istio.io/v1\nkind: Gateway\nkind: Gateway\n');
  assert.deepEqual(s[0]?.problems, ['error: line 3, column 1: invalid YAML: Map keys must be unique']);
});

test('JSON documents are read too', () => {
  const json = JSON.stringify({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name: 'r' },
    spec: { host: 'r' },
  });
  assert.equal(parseAndValidate(json, 'r.json')[0]?.resource?.kind, 'DestinationRule');
});

test('loadFile parses a file; a missing one is TRELLIS_NOT_FOUND', async () => {
  // Which files of a directory are config is config/config-files.ts's rule (its own tests).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-api-'));
  try {
    await writeFile(path.join(dir, 'a.yaml'), REVIEWS.replace('name: reviews', 'name: a'));
    assert.deepEqual(
      (await loadFile(path.join(dir, 'a.yaml'))).map((d) => d.resource?.metadata.name),
      ['a'],
    );
    await assert.rejects(loadFile(path.join(dir, 'missing.yaml')), (err) =>
      isTrellisError(err, 'TRELLIS_NOT_FOUND'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('registering a kind is one call, and parse uses it', () => {
  registerKind({
    group: 'trellis.io',
    versions: ['v1alpha1'],
    kind: 'TestWidget',
    namespaced: true,
    validate: (spec, problems, p) => {
      if (typeof spec !== 'object' || spec === null || !('size' in spec))
        problems.error(`${p}.size`, 'required');
    },
  });
  assert.ok(registeredKinds().some((k) => k.kind === 'TestWidget'));
  const s = summary(
    'apiVersion: trellis.io/v1alpha1\nkind: TestWidget\nmetadata: {name: w}\nspec: {color: red}\n',
  );
  assert.deepEqual(s[0]?.problems, ['error: spec.size: required']);
  assert.throws(() =>
    registerKind({
      group: 'x.io',
      versions: ['v1'],
      kind: 'TestWidget',
      namespaced: true,
      validate: () => {},
    }),
  );
});

test('unquoted IPv6 addresses and a:b values read as strings (YAML 1.2 core, as Kubernetes reads them)', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: v6 }
spec:
  hosts: [v6.example.com]
  addresses: [2001:db8::1, 2001:db8::/32, ::1]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
  - address: 2001:db8::2
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm }
spec:
  address: fe80::1
  network: 12:30
`;
  const docs = parseAndValidate(text, 'f.yaml');
  assert.deepEqual(
    docs.map((d) => d.problems.map(formatProblem)),
    [[], []],
  );
  const se = docs[0]?.resource?.spec as { addresses: unknown[]; endpoints: { address: unknown }[] };
  assert.deepEqual(se.addresses, ['2001:db8::1', '2001:db8::/32', '::1']);
  assert.equal(se.endpoints[0]?.address, '2001:db8::2');
  // YAML 1.1 would read 12:30 as the sexagesimal number 750.
  const we = docs[1]?.resource?.spec as { address: unknown; network: unknown };
  assert.deepEqual([we.address, we.network], ['fe80::1', '12:30']);
});
