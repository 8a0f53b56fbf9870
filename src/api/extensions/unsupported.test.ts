import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../parse.js';

const WASM = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: openid-connect, namespace: istio-ingress }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  url: oci://private-registry:5000/openid-connect/openid:latest
  phase: AUTHN
`;
const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews } }] }]
`;

test('a WasmPlugin is an error of its own document, not skipped; the other documents load', () => {
  const docs = parseAndValidate(
    `${VS}---\n${WASM}---\n${WASM.replace('openid-connect', 'other')}`,
    'mesh.yaml',
  );
  assert.equal(docs.length, 3);
  assert.ok(docs[0]?.resource, 'the VirtualService loads');
  for (const d of docs.slice(1)) {
    assert.equal(d.skipped, undefined);
    assert.equal(d.resource, undefined);
    assert.deepEqual(d.problems.map(formatProblem), [
      'kind: WasmPlugin is not supported by the Trellis proxy (it runs no WebAssembly); remove this document, or express the filter with the built-in features (VirtualService headers, RateLimit, AuthorizationPolicy)',
    ]);
  }
  assert.deepEqual(
    docs.map((d) => `${d.source.file}:${d.source.doc}`),
    ['mesh.yaml:1', 'mesh.yaml:2', 'mesh.yaml:3'],
  );
});

test('every version of extensions.istio.io is refused the same way; other kinds of the group are unknown, not skipped', () => {
  for (const v of ['v1alpha1', 'v1beta1', 'v1']) {
    const [d] = parseAndValidate(WASM.replace('v1alpha1', v), 'w.yaml');
    assert.match(
      formatProblem(d!.problems[0]!),
      /^kind: WasmPlugin is not supported by the Trellis proxy/,
      v,
    );
  }
  const [other] = parseAndValidate(WASM.replace('kind: WasmPlugin', 'kind: TrafficExtension'), 'w.yaml');
  assert.equal(other?.skipped, undefined);
  assert.match(
    formatProblem(other!.problems[0]!),
    /^kind: unknown kind "TrafficExtension" in extensions.istio.io; no kinds of this group are supported yet$/,
  );
});
