/**
 * The console as `trellis control-plane --console-tokens FILE` serves it: the URL printed, the
 * file's users logging in, a bad file refused at start with its line and what to write, and
 * the audit file in the state directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTrellis, startTrellis } from '../../integration/helpers/process.js';
import { eventually } from '../../../src/core/testing/eventually.js';

test('control-plane --console-tokens: prints the console URL; the file`s users log in; edits are audited', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-console-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    path.join(dir, 'tokens.csv'),
    'ed-3f9c1a7b2e,alice,1,"trellis:editors"\nvw-8d2e4c6a1f,bob,2,trellis:viewers\n',
  );
  await mkdir(path.join(dir, 'config'), { recursive: true });
  const cp = startTrellis([
    'control-plane',
    '--config',
    path.join(dir, 'config'),
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
    '--console-tokens',
    path.join(dir, 'tokens.csv'),
  ]);
  try {
    const m = await cp.waitForOutput(/console (http:\/\/127\.0\.0\.1:\d+)\/console\/ \(2 token\(s\) from /);
    const base = m[1]!;
    assert.equal((await fetch(`${base}/console/`)).status, 200);
    assert.equal((await fetch(`${base}/console/api/session`)).status, 401);
    const who = await fetch(`${base}/console/api/session`, {
      headers: { authorization: 'Bearer vw-8d2e4c6a1f' },
    });
    assert.deepEqual(await who.json(), { user: 'bob', uid: '2', role: 'viewer' });
    const res = await fetch(`${base}/console/api/config`, {
      method: 'POST',
      headers: { authorization: 'Bearer ed-3f9c1a7b2e', 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'trellis.io/v1alpha1',
        kind: 'TrafficFilter',
        metadata: { name: 'reviews-console-timeout', namespace: 'default' },
        spec: { target: { host: 'reviews.default.svc.cluster.local' }, owner: 'console', timeout: '2s' },
      }),
    });
    assert.equal(res.status, 200);
    // Written as a file the user can read, naming its editor; and audited in the state directory.
    const applied = await readFile(
      path.join(dir, 'config', 'applied', 'trafficfilter.default.reviews-console-timeout.yaml'),
      'utf8',
    );
    assert.match(applied, /trellis\.io\/edited-by: alice/);
    await eventually(async () => {
      const audit = await readFile(path.join(dir, 'config', '.trellis-state', 'console-audit.jsonl'), 'utf8');
      assert.match(audit, /"user":"alice".*"outcome":"applied"/);
    });
    assert.doesNotMatch(cp.stdout() + cp.stderr(), /ed-3f9c1a7b2e|vw-8d2e4c6a1f/, 'no token in the output');
  } finally {
    await cp.stop();
  }
});

test('control-plane --console-tokens with a bad file: exit 2, the line and what to write', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-console-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tokens.csv');
  await writeFile(file, 'tok,carol,3,dev\n');
  const r = await runTrellis([
    'control-plane',
    '--config',
    dir,
    '--xds-port',
    '0',
    '--http-port',
    '0',
    '--console-tokens',
    file,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /tokens\.csv:1: user "carol" is in neither trellis:editors nor trellis:viewers; add one/,
  );
  const missing = await runTrellis([
    'control-plane',
    '--config',
    dir,
    '--console-tokens',
    path.join(dir, 'nope.csv'),
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--console-tokens .*nope\.csv: cannot read it/);
});
