/**
 * `trellis control-plane --store etcd://...` as a user runs it: two processes on one etcd, the
 * store named in the startup line, `trellis apply` through one and `trellis get` through the
 * other, `trellis apply` refused with the etcd error while etcd is stopped, and bad --store values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../../../src/core/testing/eventually.js';
import { runTrellis, startTrellis, type RunningCommand } from '../helpers/process.js';
import { EtcdServer, etcdSkip } from '../helpers/etcd.js';

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;

async function controlPlane(
  etcd: EtcdServer,
  stateDir: string,
): Promise<{ cp: RunningCommand; http: string }> {
  const cp = startTrellis([
    'control-plane',
    '--store',
    etcd.url,
    '--state-dir',
    stateDir,
    '--xds-port',
    '0',
    '--http-port',
    '0',
    '--secure-port',
    'off',
  ]);
  const m = await cp.waitForOutput(/HTTP on (http:\/\/127\.0\.0\.1:\d+) \((.*?): revision \d+/, 30_000);
  assert.equal(m[2], `etcd at ${etcd.endpoint}`);
  return { cp, http: m[1]! };
}

test('trellis control-plane --store etcd://', { skip: etcdSkip, timeout: 120_000 }, async (t) => {
  const etcd = await EtcdServer.start();
  t.after(() => etcd.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-etcd-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await controlPlane(etcd, path.join(dir, 'a'));
  t.after(() => a.cp.stop());
  const b = await controlPlane(etcd, path.join(dir, 'b'));
  t.after(() => b.cp.stop());
  await writeFile(path.join(dir, 'vs.yaml'), VS);

  const applied = await runTrellis(['apply', '-f', path.join(dir, 'vs.yaml'), '--control-plane', a.http]);
  assert.equal(applied.code, 0, applied.stderr);
  const got = await eventually(async () => {
    const r = await runTrellis(['get', 'vs', 'reviews', '-o', 'json', '--control-plane', b.http]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  });
  assert.equal(JSON.parse(got.stdout).metadata.name, 'reviews');

  await etcd.stop();
  const refused = await runTrellis(['apply', '-f', path.join(dir, 'vs.yaml'), '--control-plane', b.http]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /etcd at 127\.0\.0\.1:\d+ is unreachable/);
  assert.match(refused.stderr, /writes are refused until it returns/);
  const stillServed = await runTrellis(['get', 'vs', 'reviews', '-o', 'json', '--control-plane', b.http]);
  assert.equal(stillServed.code, 0, stillServed.stderr);
  await etcd.restart();
});

test('control-plane --store explains bad values', async () => {
  const bad = await runTrellis(['control-plane', '--store', 'redis://127.0.0.1:6379']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--store "redis:\/\/127\.0\.0\.1:6379": expected etcd:\/\/HOST:PORT/);
  const port = await runTrellis(['control-plane', '--store', 'etcd://127.0.0.1:99999']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /endpoint "127\.0\.0\.1:99999" is not HOST:PORT/);
  const both = await runTrellis(['control-plane', '--store', 'etcd://127.0.0.1:2379', '--config', '.']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--config and --store both name where config comes from/);
});
