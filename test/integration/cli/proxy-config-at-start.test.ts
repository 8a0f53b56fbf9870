/**
 * ProxyConfig applied as Istio applies it: when a proxy starts. `trellis proxy --control-plane
 * URL` runs as a user runs it, reads the ProxyConfig its namespace and labels select, and runs
 * with its concurrency (worker processes) and environment (in those processes; ISTIO_META_ ones
 * as node metadata). A later change is not applied to the running proxy: `trellis apply` warns
 * so, and `trellis proxy-status` and `trellis get proxyconfigs -o wide` name the proxy to restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../../src/core/testing/eventually.js';
import { request } from '../../../src/proxy/testing/harness.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis, startTrellis } from '../helpers/process.js';

const CONFIGS = `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: mesh, namespace: istio-system }
spec:
  concurrency: 1
  environmentVariables: { PC_LEVEL: root, PC_ROOT_ONLY: kept }
---
apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: cart, namespace: shop }
spec:
  selector: { matchLabels: { app: cart } }
  concurrency: 2
  environmentVariables: { PC_LEVEL: workload, ISTIO_META_PC_TEST: from-proxyconfig }
`;

const CHANGE = `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: shop-wide, namespace: shop }
spec:
  environmentVariables: { PC_ADDED: later }
`;

interface SynczRow {
  proxy: string;
  proxyConfig?: { started: string; current: string; inEffect: boolean; sources: string[] };
}

function environOf(pid: number): Promise<Record<string, string>> {
  return readFile(`/proc/${pid}/environ`, 'utf8').then((text) =>
    Object.fromEntries(
      text
        .split('\0')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ),
  );
}

test('a proxy starts with its ProxyConfig, and a later change waits for its restart', async (t) => {
  const mesh = await startMesh();
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-pc-'));
  t.after(async () => {
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
  });
  mesh.apply(CONFIGS);
  const cp = ['--control-plane', mesh.httpUrl];

  // The route a launcher reads.
  const answer = (await (
    await fetch(`${mesh.httpUrl}/v1/proxy-config?namespace=shop&labels=app=cart,version=v1`)
  ).json()) as { concurrency: number; environmentVariables: Record<string, string>; sources: string[] };
  assert.equal(answer.concurrency, 2);
  assert.deepEqual(answer.environmentVariables, {
    PC_LEVEL: 'workload',
    PC_ROOT_ONLY: 'kept',
    ISTIO_META_PC_TEST: 'from-proxyconfig',
  });
  assert.deepEqual(answer.sources, ['shop/cart', 'istio-system/mesh']);

  const proxy = startTrellis([
    'proxy',
    '--xds-address',
    `127.0.0.1:${mesh.xdsPort}`,
    ...cp,
    '--namespace',
    'shop',
    '--workload',
    'cart-v1',
    '--labels',
    'app=cart,version=v1',
    '--admin-port',
    '0',
    '--outbound-port',
    '0',
    '--inbound-port',
    '0',
    '--drain-seconds',
    '1',
  ]);
  t.after(() => proxy.stop('SIGKILL'));
  await proxy.waitForOutput(
    /ProxyConfig concurrency 2; environment ISTIO_META_PC_TEST, PC_LEVEL, PC_ROOT_ONLY \(from shop\/cart, istio-system\/mesh\)/,
  );
  const ready = await proxy.waitForOutput(/proxy ready: .* admin 127\.0\.0\.1:(\d+); 2 workers/, 20_000);
  const admin = Number(ready[1]);

  // Two worker processes, each with the ProxyConfig's environment.
  const info = (await request(admin, { path: '/server_info' })).json<{ workers: { pid: number }[] }>();
  assert.equal(info.workers.length, 2);
  for (const w of info.workers) {
    const env = await environOf(w.pid);
    assert.equal(env.PC_LEVEL, 'workload');
    assert.equal(env.PC_ROOT_ONLY, 'kept');
  }

  // The control plane knows what it started with, and that it is current.
  const row = async () => {
    const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as SynczRow[];
    return rows.find((r) => r.proxy.includes('cart-v1.shop'));
  };
  const first = await eventually(async () => (await row())?.proxyConfig ?? false, 'proxy connected');
  assert.equal(first.inEffect, true);
  const status = await runTrellis(['proxy-status', ...cp]);
  assert.equal(status.code, 0, status.stderr);
  assert.doesNotMatch(status.stdout, /ProxyConfig changed/);

  // A change: the apply warns it waits for a restart; the proxy keeps what it started with.
  await writeFile(path.join(dir, 'shop-wide.yaml'), CHANGE);
  const applied = await runTrellis(['apply', '-f', path.join(dir, 'shop-wide.yaml'), ...cp]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(
    applied.stdout + applied.stderr,
    /warning: spec\.environmentVariables: applied when a proxy starts: running proxies keep the value they started with until restarted/,
  );
  const stale = await eventually(async () => {
    const pc = (await row())?.proxyConfig;
    return pc?.inEffect === false ? pc : false;
  }, 'the proxy is reported as running an older ProxyConfig');
  assert.equal(stale.started, first.started);
  assert.deepEqual(stale.sources, ['shop/cart', 'shop/shop-wide', 'istio-system/mesh']);

  const after = await runTrellis(['proxy-status', ...cp]);
  assert.match(
    after.stdout,
    /ProxyConfig changed since these proxies started; it takes effect when the proxy restarts:\n {2}sidecar~127\.0\.0\.1~cart-v1\.shop~shop\.svc\.cluster\.local: runs [0-9a-f]{12}, would start with [0-9a-f]{12} from shop\/cart, shop\/shop-wide, istio-system\/mesh\n/,
  );
  const wide = await runTrellis(['get', 'proxyconfigs', '-n', 'shop', '-o', 'wide', ...cp]);
  assert.equal(wide.code, 0, wide.stderr);
  assert.match(wide.stdout, /^NAME\s+SELECTOR\s+CONCURRENCY\s+APPLIED\s+RESTART TO APPLY\s+AGE\s+SOURCE\n/);
  assert.match(wide.stdout, /\ncart\s+app=cart\s+2\s+at proxy start\s+cart-v1\.shop\s/);
  assert.match(wide.stdout, /\nshop-wide\s+at proxy start\s+cart-v1\.shop\s/);
  for (const w of info.workers) assert.equal((await environOf(w.pid)).PC_ADDED, undefined);
});

test('trellis proxy --control-plane that does not answer: an error saying what to do', async () => {
  const r = await runTrellis([
    'proxy',
    '--xds-address',
    '127.0.0.1:1',
    '--control-plane',
    'http://127.0.0.1:1',
    '--admin-port',
    '0',
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /cannot read this proxy's ProxyConfig from http:\/\/127\.0\.0\.1:1: .*--control-plane is the control plane's HTTP API \(e\.g\. http:\/\/127\.0\.0\.1:15014\); leave it out to start without ProxyConfig/,
  );
});
