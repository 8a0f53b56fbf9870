/**
 * WorkloadGroup and ProxyConfig are stored kinds: a control plane on a config directory serves
 * them, `trellis get workloadgroups` / `trellis get proxyconfigs` list and show them as a user
 * runs the binary, and a WasmPlugin beside them keeps its file out with the reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../../src/api/parse.js';
import { DirectoryConfigStore } from '../../src/config/directory-store.js';
import { ControlPlane } from '../../src/controlplane/control-plane.js';
import { runTrellis } from './helpers/process.js';

const GROUP = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: reviews, namespace: bookinfo }
spec:
  metadata:
    labels: { app: reviews, version: v3 }
  template:
    ports: { http: 9080 }
    serviceAccount: reviews
    network: vm-net
  probe:
    periodSeconds: 5
    httpGet: { path: /ready, port: 9080 }
---
apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: two-workers, namespace: bookinfo }
spec:
  concurrency: 2
`;
const WASM = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: auth, namespace: bookinfo }
spec: { url: oci://example/auth:1 }
`;

let dir: string;
let store: DirectoryConfigStore;
let cp: ControlPlane;
let url: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-wg-'));
  await writeFile(path.join(dir, 'vms.yaml'), GROUP);
  await writeFile(path.join(dir, 'plugins.yaml'), WASM);
  store = new DirectoryConfigStore(dir, { parse: parseAndValidate, rescanMs: 0 });
  await store.start();
  cp = new ControlPlane({ config: store });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${bound.http.port}`;
});

after(async () => {
  store.close();
  await cp.stop();
  await rm(dir, { recursive: true, force: true });
});

const trellis = (...args: string[]) => runTrellis([...args, '--control-plane', url], { cwd: dir });

test('trellis get workloadgroups lists the group; -o yaml shows its template and probe', async () => {
  const list = await trellis('get', 'workloadgroups', '-n', 'bookinfo');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+AGE\nreviews\s+\S+\n$/);

  const yaml = await trellis('get', 'workloadgroup', 'reviews', '-n', 'bookinfo', '-o', 'yaml');
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /^apiVersion: networking.istio.io\/v1\nkind: WorkloadGroup\n/);
  assert.match(yaml.stdout, /template:\n\s+ports:\n\s+http: 9080\n/);
  assert.match(yaml.stdout, /httpGet:\n\s+path: \/ready\n\s+port: 9080\n/);

  const pcs = await trellis('get', 'proxyconfigs', '-A');
  assert.equal(pcs.code, 0, pcs.stderr);
  assert.match(pcs.stdout, /bookinfo\s+two-workers/);
});

test('the WasmPlugin file is refused whole, with its file, document and reason', async () => {
  const wasm = await trellis('get', 'wasmplugins', '-A');
  assert.notEqual(wasm.code, 0);
  const analyzed = await runTrellis(['analyze', dir], { cwd: dir });
  assert.equal(analyzed.code, 1);
  assert.match(
    analyzed.stdout + analyzed.stderr,
    /plugins\.yaml:1: kind: WasmPlugin is not supported by the Trellis proxy/,
  );
});
