/**
 * Restart the control plane while a config file is invalid: the file's resources keep serving
 * from the persisted last accepted version, and /debug/config_errors says so. (Regression: the
 * last good config lived only in memory, so a VirtualService pinning traffic to v1 vanished on
 * restart and traffic went round-robin.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../api/parse.js';
import { DirectoryConfigStore } from '../config/directory-store.js';
import { DEFAULT_STATE_DIR_NAME } from '../config/last-good-state.js';
import { ControlPlane } from './control-plane.js';

const PINNED = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
`;

const INVALID = PINNED.replace('subset: v1 }', 'subset: v1 }\n      weight: -5');

async function withControlPlane<T>(dir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const store = new DirectoryConfigStore(dir, {
    parse: parseAndValidate,
    rescanMs: 0,
    stateDir: path.join(dir, DEFAULT_STATE_DIR_NAME),
  });
  await store.start();
  const cp = new ControlPlane({ config: store, debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  try {
    return await fn(`http://127.0.0.1:${bound.http.port}`);
  } finally {
    store.close();
    await cp.stop();
  }
}

test('control plane restarted while a file is invalid serves its last accepted version and reports it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-cp-last-good-'));
  try {
    await writeFile(path.join(dir, 'reviews.yaml'), PINNED);
    await withControlPlane(dir, async (url) => {
      assert.equal((await fetch(`${url}/v1/config/vs/default/reviews`)).status, 200);
    });

    await writeFile(path.join(dir, 'reviews.yaml'), INVALID);
    await withControlPlane(dir, async (url) => {
      const res = await fetch(`${url}/v1/config/vs/default/reviews`);
      assert.equal(res.status, 200, 'the VirtualService pinning v1 still serves');
      const vs = (await res.json()) as { spec: { http: { route: { destination: { subset: string } }[] }[] } };
      assert.equal(vs.spec.http[0]!.route[0]!.destination.subset, 'v1');
      const entries = (await (await fetch(`${url}/debug/config_errors`)).json()) as {
        source: { file: string };
        servingLastGood: boolean;
        lastGoodFrom: string;
        problems: { path: string; severity: string }[];
      }[];
      // Rejected inputs; the rest are warnings about served config (here: no rule defines v1).
      const errors = entries.filter((e) => e.problems.some((p) => p.severity === 'error'));
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.source.file, /reviews\.yaml$/);
      assert.equal(errors[0]!.servingLastGood, true);
      assert.equal(
        errors[0]!.lastGoodFrom,
        path.join(dir, DEFAULT_STATE_DIR_NAME, 'last-good', 'reviews.yaml.json'),
      );
      assert.match(errors[0]!.problems[0]!.path, /weight/);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
