/**
 * `trellis up` starts each sidecar with the ProxyConfig that selects it, read when the sidecar
 * starts (Istio: at injection): a workload whose ProxyConfig asks for 2 workers gets a sidecar of
 * two worker processes with the ProxyConfig's environment, serving its traffic; the others stay
 * in `up`'s own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually } from '../../src/core/testing/eventually.js';
import { tinyMesh } from './helpers/tiny-mesh.js';

const PROXY_CONFIG = `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: web-workers, namespace: default }
spec:
  selector: { matchLabels: { trellis.io/workload: web-v1 } }
  concurrency: 2
  environmentVariables: { PC_UP_VAR: from-proxyconfig }
`;

test('up: a sidecar runs the workers and environment of its ProxyConfig', { timeout: 120_000 }, async (t) => {
  const mesh = await tinyMesh();
  await writeFile(path.join(mesh.configDir, 'proxy-config.yaml'), PROXY_CONFIG);
  const up = mesh.start();
  t.after(async () => {
    await up.stop('SIGKILL');
    await mesh.remove();
  });
  await up.waitForOutput(/Press Ctrl-C to stop/, 60_000);
  const out = up.stdout();
  assert.match(
    out,
    /web-v1 +\.\.\. ProxyConfig concurrency 2; environment PC_UP_VAR \(from default\/web-workers\): 2 worker processes\n/,
  );
  assert.doesNotMatch(out, /tiny-gateway +\.\.\. ProxyConfig/);
  const gateway = /gateway: +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
  const admin = /web-v1 +\.\.\. ready \(pid \d+; .* admin :(\d+)\)/.exec(out)?.[1] ?? '';
  const res = await fetch(`${gateway}/hello`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'web-v1 hello /hello');

  const info = (await (await fetch(`http://127.0.0.1:${admin}/server_info`)).json()) as {
    workers?: { pid: number; requests?: number }[];
  };
  assert.equal(info.workers?.length, 2, JSON.stringify(info));
  for (const w of info.workers ?? []) {
    const environ = await readFile(`/proc/${w.pid}/environ`, 'utf8');
    assert.ok(environ.split('\0').includes('PC_UP_VAR=from-proxyconfig'), `worker ${w.pid}`);
  }
  // The request above went through one of the workers.
  await eventually(async () => {
    const again = (await (await fetch(`http://127.0.0.1:${admin}/server_info`)).json()) as typeof info;
    return (again.workers ?? []).some((w) => (w.requests ?? 0) > 0);
  }, 'a worker counted the request');
});
