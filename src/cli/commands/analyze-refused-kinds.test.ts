import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { command as analyze } from './analyze.js';

// Kinds Trellis refuses on purpose (extensions.istio.io WasmPlugin) fail `trellis analyze` with
// the file and document of each, instead of being skipped.
const WASM = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: openid-connect, namespace: istio-ingress }
spec:
  url: oci://private-registry:5000/openid-connect/openid:latest
`;
const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews } }] }]
`;

test('trellis analyze names the file and document of each WasmPlugin and fails', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-wasm-'));
  try {
    await writeFile(path.join(dir, 'plugins.yaml'), `${VS}---\n${WASM}`);
    let out = '';
    const io = {
      stdout: (t: string) => void (out += t),
      stderr: (t: string) => void (out += t),
      env: {},
      cwd: dir,
    };
    assert.equal(await analyze.run(['.'], io), 1);
    assert.match(out, /plugins\.yaml:2: kind: WasmPlugin is not supported by the Trellis proxy/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
