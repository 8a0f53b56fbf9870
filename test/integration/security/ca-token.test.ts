/**
 * `trellis token create` as an operator runs it, and its output used by a real `trellis proxy`
 * process: the proxy gets a certificate for the token's identity, and the join token in its
 * credential file is replaced by the workload credential the CA exchanged it for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { main } from '../../../src/cli/main.js';
import type { CommandIo } from '../../../src/cli/command.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { startCaMesh, tempDir } from './ca-helpers.js';

test('a join token from `trellis token create` gets a proxy its certificate, then a workload credential', async () => {
  const mesh = await startCaMesh();
  const work = await tempDir('trellis-token-');
  const file = path.join(work, 'join.jwt');
  let proxy: ReturnType<typeof startTrellis> | undefined;
  try {
    const made = await runTrellis([
      'token',
      'create',
      '--namespace',
      'vms',
      '--service-account',
      'billing',
      '--state-dir',
      mesh.stateDir,
      '--ttl',
      '10m',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'only the token on stdout');
    const claims = decodeJwt(token);
    assert.equal(claims.kind, 'join');
    assert.equal(Number(claims.exp) - Number(claims.iat), 600);
    await fs.writeFile(file, made.stdout);

    proxy = startTrellis([
      'proxy',
      '--xds',
      mesh.address,
      '--namespace',
      'vms',
      '--workload',
      'billing',
      '--credential-file',
      file,
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--drain-seconds',
      '0',
    ]);
    await proxy.waitForOutput(
      /workload certificate spiffe:\/\/cluster\.local\/ns\/vms\/sa\/billing, valid until \S+Z/,
      20_000,
    );
    await eventually(async () => {
      const now = (await fs.readFile(file, 'utf8')).trim();
      assert.notEqual(now, token);
      const v = await mesh.ca.credentials.verify(now);
      assert.equal(v.kind, 'workload');
      assert.equal(v.spiffeId, 'spiffe://cluster.local/ns/vms/sa/billing');
    });
  } finally {
    if (proxy) assert.equal(await proxy.stop('SIGTERM'), 0, proxy.stderr());
    await mesh.stop();
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(mesh.stateDir, { recursive: true, force: true });
  }
});

test('token create: usage errors and a state directory without a key say what to do', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const dir = await tempDir('trellis-token-');
  const io: CommandIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: dir };
  const ok = ['token', 'create', '--namespace', 'a', '--service-account', 'b'];
  try {
    const cases: [string[], RegExp][] = [
      [['token'], /expected 'trellis token create \.\.\.'/],
      [
        ['token', 'create', '--namespace', 'a', '--state-dir', dir],
        /--namespace and --service-account are required/,
      ],
      [[...ok], /one of --state-dir DIR or --config DIR is required/],
      [[...ok, '--state-dir', dir, '--config', dir], /one of --state-dir DIR or --config DIR/],
      [[...ok, '--state-dir', dir, '--kind', 'root'], /--kind "root": expected join or workload/],
      [[...ok, '--state-dir', dir, '--ttl', 'soon'], /--ttl "soon": expected a duration/],
    ];
    for (const [argv, message] of cases) {
      err.length = 0;
      assert.equal(await main(argv, io), 2, argv.join(' '));
      assert.match(err.join(''), message, argv.join(' '));
    }
    err.length = 0;
    assert.equal(await main([...ok, '--config', dir], io), 1);
    assert.match(
      err.join(''),
      /no credential signing key in .*\.trellis-state\/ca: start the control plane once/,
    );

    // With a key: a join token longer than a week and a malformed name are refused.
    const mesh = await startCaMesh({ stateDir: path.join(dir, '.trellis-state') });
    await mesh.stop();
    err.length = 0;
    assert.equal(await main([...ok, '--config', dir, '--ttl', '200h'], io), 2);
    assert.match(err.join(''), /a join token lives at most 7 days/);
    assert.equal(
      await main(['token', 'create', '--namespace', 'a/b', '--service-account', 'b', '--config', dir], io),
      2,
    );
    assert.match(err.join(''), /namespace "a\/b" cannot be a SPIFFE path segment/);

    // --output: mode 0600, nothing on stdout; a workload credential lives a year by default.
    out.length = 0;
    assert.equal(await main([...ok, '--config', dir, '--kind', 'workload', '--output', 'cred'], io), 0);
    assert.deepEqual(out, []);
    assert.equal((await fs.stat(path.join(dir, 'cred'))).mode & 0o777, 0o600);
    const claims = decodeJwt(await fs.readFile(path.join(dir, 'cred'), 'utf8'));
    assert.equal(Number(claims.exp) - Number(claims.iat), 365 * 86_400);
    assert.match(err.join(''), /workload credential for spiffe:\/\/cluster\.local\/ns\/a\/sa\/b/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
