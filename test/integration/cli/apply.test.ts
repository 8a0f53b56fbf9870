/**
 * `trellis apply`, `trellis get` and `trellis delete` as a user runs them: the real binary as a
 * child process against a control plane (on a config directory) started by the test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../../../src/api/parse.js';
import { DirectoryConfigStore } from '../../../src/config/directory-store.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { runTrellis } from '../helpers/process.js';

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }]
`;

const INVALID = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: { host: ratings }
      weight: 50
    - destination: { host: ratings }
      weight: -1
`;

const USER_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: web }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*.example.com'] }]
`;

let dir: string;
let store: DirectoryConfigStore;
let cp: ControlPlane;
let url: string;

before(async () => {
  // DIR holds the user's files; DIR/cp is the control plane's config directory.
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-apply-'));
  await mkdir(path.join(dir, 'cp'));
  await writeFile(path.join(dir, 'cp', 'gateway.yaml'), USER_GATEWAY);
  await writeFile(path.join(dir, 'gateway.yaml'), USER_GATEWAY);
  await writeFile(path.join(dir, 'reviews.yaml'), REVIEWS);
  await writeFile(path.join(dir, 'invalid.yaml'), INVALID);
  store = new DirectoryConfigStore(path.join(dir, 'cp'), { parse: parseAndValidate, rescanMs: 0 });
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

test('apply -f creates, get lists and shows, apply again is unchanged, delete removes', async () => {
  const applied = await trellis('apply', '-f', 'reviews.yaml');
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(
    applied.stdout,
    'virtualservice.networking.istio.io/reviews created\ndestinationrule.networking.istio.io/reviews created\n',
  );

  const list = await trellis('get', 'vs');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+GATEWAYS\s+HOSTS\s+AGE\nreviews\s+\["reviews"\]\s+\d+s\n$/);

  const all = await trellis('get', 'gw', '-A', '-o', 'wide');
  assert.match(
    all.stdout,
    /^NAMESPACE\s+NAME\s+HOSTS\s+AGE\s+SOURCE\nweb\s+public\s+\["\*\.example\.com"\]\s+\S+\s+.*gateway\.yaml\n$/,
  );

  const yaml = await trellis('get', 'DestinationRule', 'reviews', '-o', 'yaml');
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /^apiVersion: networking.istio.io\/v1\nkind: DestinationRule\n/);
  assert.match(yaml.stdout, /subsets:\n {4}- name: v1/);

  const again = await trellis('apply', '-f', 'reviews.yaml');
  assert.match(again.stdout, /virtualservice.networking.istio.io\/reviews unchanged/);

  const del = await trellis('delete', 'vs', 'reviews');
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout, 'virtualservice.networking.istio.io "reviews" deleted\n');
  const gone = await trellis('get', 'vs', 'reviews');
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /trellis get: VirtualService default\/reviews not found/);
});

test('an invalid file: analyze-style lines, exit 1, nothing applied', async () => {
  const r = await trellis('apply', '-f', 'invalid.yaml');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^invalid\.yaml:1: spec\.http\[0\]\.route\[1\]\.weight: .*\n/m);
  assert.match(r.stderr, /Error: 1 error\(s\), \d+ warning\(s\); nothing was applied/);
  const none = await trellis('get', 'vs', '-A');
  assert.doesNotMatch(none.stdout, /ratings/);
});

test('a resource from a user-written file is not overwritten or deleted; the error names the file', async () => {
  const r = await trellis('apply', '-f', 'gateway.yaml');
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /Gateway web\/public is defined in .*cp\/gateway\.yaml; edit .*gateway\.yaml or delete the resource there/,
  );
  const d = await trellis('delete', 'gateway', 'public', '-n', 'web');
  assert.equal(d.code, 1);
  assert.match(d.stderr, /edit .*gateway\.yaml or delete the resource there/);
});

test('usage errors exit 2; an unreachable control plane names the URL and how to change it', async () => {
  const bad = await trellis('get', 'deployments');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown kind "deployments"; known kinds: .*VirtualService \(vs\)/);
  const down = await runTrellis(['get', 'vs', '--control-plane', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(
    down.stderr,
    /cannot reach the control plane at http:\/\/127\.0\.0\.1:9 .*--control-plane URL or \$TRELLIS_CONTROL_PLANE/,
  );
});
