/**
 * bin/trellis, the installed `trellis` command: a shell script that execs node, giving
 * `trellis proxy` a small V8 young generation (bench/RESULTS.md: ~25 MB less memory for about the
 * same CPU per request). Read from /proc: the pid the caller holds is node itself (exec, so a supervisor's
 * signals reach it), and --concurrency workers inherit the flags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeAds } from '../../src/proxy/testing/fake-ads.js';
import { request } from '../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../src/proxy/testing/resources.js';
import { startTrellis, type RunningCommand } from './helpers/process.js';

let ads: FakeAds;

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
}

async function startProxy(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<[RunningCommand, number]> {
  const proxy = startTrellis(
    [
      'proxy',
      '--xds',
      ads.address,
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      ...extra,
    ],
    { env: { TRELLIS_LOG_LEVEL: 'info', ...env }, viaCommand: true },
  );
  const m = await proxy.waitForOutput(/proxy ready: .* admin 127\.0\.0\.1:(\d+)/, 20_000);
  return [proxy, Number(m[1])];
}

before(async () => {
  ads = await FakeAds.start();
  const cluster = 'outbound|9080||reviews.default.svc.cluster.local';
  ads.set('CDS', [edsCluster(cluster)]);
  ads.set('EDS', [endpoints(cluster, [{ port: 9 }])]);
  ads.set('LDS', [httpListener(9080)]);
  ads.set('RDS', [routeConfig('9080', [virtualHost('reviews', ['*'], [routeTo(cluster)])])]);
});

after(async () => {
  await ads.close();
});

test('trellis proxy runs as node itself with a 2 MB young generation; SIGTERM stops it', async () => {
  const [proxy] = await startProxy({});
  try {
    const argv = argvOf(proxy.child.pid!);
    assert.match(argv[0] ?? '', /node$/, `the pid is node (exec), not sh: ${argv.join(' ')}`);
    assert.ok(argv.includes('--max-semi-space-size=2'), argv.join(' '));
    assert.ok(argv.some((a) => a.endsWith('bin/trellis.mjs')));
  } finally {
    assert.equal(await proxy.stop('SIGTERM'), 0);
  }
});

test("TRELLIS_PROXY_NODE_FLAGS replaces the proxy's node flags; TRELLIS_NODE_FLAGS adds to them", async () => {
  const [defaults] = await startProxy({ TRELLIS_PROXY_NODE_FLAGS: '', TRELLIS_NODE_FLAGS: '--no-warnings' });
  try {
    const argv = argvOf(defaults.child.pid!);
    assert.equal(
      argv.some((a) => a.startsWith('--max-semi-space-size')),
      false,
      argv.join(' '),
    );
    assert.ok(argv.includes('--no-warnings'), argv.join(' '));
  } finally {
    await defaults.stop('SIGKILL');
  }
});

test('--concurrency workers inherit the flags', async () => {
  const [proxy, admin] = await startProxy({}, ['--concurrency', '2']);
  try {
    const info = (await request(admin, { path: '/server_info' })).json<{ workers: { pid?: number }[] }>();
    const pids = info.workers.map((w) => w.pid).filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 2, JSON.stringify(info.workers));
    for (const pid of pids) assert.ok(argvOf(pid).includes('--max-semi-space-size=2'), argvOf(pid).join(' '));
  } finally {
    await proxy.stop('SIGKILL');
  }
});
