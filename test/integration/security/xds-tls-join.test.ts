/**
 * A host joining from elsewhere over the control plane's TLS port, as an operator does it, with
 * processes: `trellis control-plane` announces its TLS port, `trellis token create` writes the
 * join token and the root certificate, and `trellis proxy --xds-root-ca` uses only those two
 * files to get its config and certificate. A wrong or unreadable root is reported with the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { runTrellis, startTrellis, type RunningCommand } from '../helpers/process.js';
import { tempDir } from './ca-helpers.js';

const PROXY_PORTS = [
  '--admin-port',
  '0',
  '--outbound-port',
  '0',
  '--inbound-port',
  '0',
  '--drain-seconds',
  '0',
];

test('token and root from `trellis token create` are all a proxy needs to join over TLS', async () => {
  const work = await tempDir('trellis-tls-join-');
  const config = path.join(work, 'mesh');
  const state = path.join(work, 'state');
  await fs.mkdir(config);
  const running: RunningCommand[] = [];
  try {
    const cp = startTrellis([
      'control-plane',
      '--config',
      config,
      '--state-dir',
      state,
      '--xds-address',
      '127.0.0.1:0',
      '--http-address',
      '127.0.0.1:0',
      '--secure-san',
      'cp.example.com',
    ]);
    running.push(cp);
    const [, securePort] = await cp.waitForOutput(
      /serving xDS and the CA over TLS on 127\.0\.0\.1:(\d+)/,
      20_000,
    );

    const made = await runTrellis([
      'token',
      'create',
      '--namespace',
      'vms',
      '--service-account',
      'billing',
      '--state-dir',
      state,
      '--output',
      path.join(work, 'join.jwt'),
      '--root-cert-out',
      path.join(work, 'root-cert.pem'),
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /root certificate written to .*root-cert\.pem/);
    assert.equal(
      await fs.readFile(path.join(work, 'root-cert.pem'), 'utf8'),
      await fs.readFile(path.join(state, 'ca', 'root-cert.pem'), 'utf8'),
    );

    // With Istio's plug-in files elsewhere (--ca-dir), the root is read there: a directory
    // without one is named, and nothing is written.
    const noRoot = await runTrellis(
      ['token', 'create', '--namespace', 'a', '--service-account', 'b', '--state-dir', state].concat([
        '--output',
        'x.jwt',
        '--root-cert-out',
        'r.pem',
        '--ca-dir',
        config,
      ]),
      { cwd: work },
    );
    assert.notEqual(noRoot.code, 0);
    assert.match(
      noRoot.stderr,
      /--root-cert-out: cannot read .*mesh\/root-cert\.pem \(ENOENT\): check --ca-dir/,
    );
    await assert.rejects(fs.access(path.join(work, 'x.jwt')));

    const proxy = startTrellis(
      [
        'proxy',
        '--xds-address',
        `127.0.0.1:${securePort}`,
        '--xds-root-ca',
        'root-cert.pem',
        '--credential-file',
        'join.jwt',
        '--namespace',
        'vms',
        '--workload',
        'billing',
        ...PROXY_PORTS,
      ],
      { cwd: work },
    );
    running.push(proxy);
    await proxy.waitForOutput(/connected to control plane/, 20_000);
    await proxy.waitForOutput(/workload certificate spiffe:\/\/cluster\.local\/ns\/vms\/sa\/billing/, 20_000);

    // A root of another CA: refused, and the log says which flag to fix.
    const other = await CertificateAuthority.create();
    await fs.writeFile(path.join(work, 'other-root.pem'), other.trustBundle().join('\n'));
    const stranger = startTrellis(
      [
        'proxy',
        '--xds-address',
        `127.0.0.1:${securePort}`,
        '--xds-root-ca',
        'other-root.pem',
        ...PROXY_PORTS,
      ],
      { cwd: work },
    );
    running.push(stranger);
    await stranger.waitForOutput(/did not verify against --xds-root-ca other-root\.pem/, 20_000);
    assert.doesNotMatch(stranger.stdout(), /connected to control plane/);
  } finally {
    for (const r of running.reverse()) await r.stop('SIGTERM');
    await fs.rm(work, { recursive: true, force: true });
  }
});

test('an unreadable or non-PEM --xds-root-ca stops the proxy at once, naming the flag', async () => {
  const work = await tempDir('trellis-tls-root-');
  try {
    const missing = await runTrellis(['proxy', '--xds-address', '127.0.0.1:1', '--xds-root-ca', 'nope.pem'], {
      cwd: work,
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--xds-root-ca nope\.pem: cannot read it \(ENOENT\)/);
    await fs.writeFile(path.join(work, 'junk.pem'), 'not a certificate\n');
    const junk = await runTrellis(['proxy', '--xds-address', '127.0.0.1:1', '--xds-root-ca', 'junk.pem'], {
      cwd: work,
    });
    assert.notEqual(junk.code, 0);
    assert.match(junk.stderr, /--xds-root-ca junk\.pem: expected PEM certificates/);
    const badPort = await runTrellis(['control-plane', '--config', work, '--secure-port', 'tls']);
    assert.notEqual(badPort.code, 0);
    assert.match(
      badPort.stderr,
      /--secure-port "tls": expected a port \(15012\), 0 for any free port, or off/,
    );
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
});
