/**
 * `trellis control-plane` serves its CA as a user runs it: trust domain and certificate lifetime
 * from flags, the CA and credential key made in the state directory, a token from `trellis token
 * create` accepted on the xDS port; bad CA flags refused before anything starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateKeyAndCsr } from '../../../src/ca/workload.js';
import { grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { tempDir } from './ca-helpers.js';
import { eventually } from '../../../src/core/testing/eventually.js';

test('trellis control-plane: --trust-domain, --workload-cert-ttl, the CA in the state dir, a token create can use', async () => {
  const dir = await tempDir('trellis-cp-ca-');
  const state = path.join(dir, 'state');
  const cp = startTrellis([
    'control-plane',
    '--config',
    dir,
    '--state-dir',
    state,
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
    '--trust-domain',
    'corp.example',
    '--workload-cert-ttl',
    '30s',
  ]);
  try {
    const [, xds] = await cp.waitForOutput(/serving xDS on (127\.0\.0\.1:\d+)/);
    await cp.waitForOutput(
      /CA for trust domain corp\.example \(self-provisioned, new: .*state\/ca\) on the xDS port/,
    );
    const token = await runTrellis([
      'token',
      'create',
      '--namespace',
      'billing',
      '--service-account',
      'api',
      '--state-dir',
      state,
      '--trust-domain',
      'corp.example',
    ]);
    assert.equal(token.code, 0, token.stderr);
    const client = grpcCertificateRequester(xds as string);
    try {
      const res = await client.request({ csr: (await generateKeyAndCsr()).csrPem }, token.stdout.trim());
      const leaf = new X509Certificate(res.cert_chain?.[0] as string);
      assert.equal(leaf.subjectAltName, 'URI:spiffe://corp.example/ns/billing/sa/api');
      const life = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000;
      assert.ok(life >= 30 && life <= 34, `30 s plus the backdating: ${life}`);
      assert.ok(res.credential, 'a join token is exchanged');

      // A token made for another trust domain is refused, and says why.
      const other = await runTrellis([
        'token',
        'create',
        '--namespace',
        'billing',
        '--service-account',
        'api',
        '--state-dir',
        state,
      ]);
      await assert.rejects(
        client.request({ csr: (await generateKeyAndCsr()).csrPem }, other.stdout.trim()),
        /UNAUTHENTICATED: credential refused: the credential is for spiffe:\/\/cluster\.local\/ns\/billing\/sa\/api, not this trust domain corp\.example/,
      );
    } finally {
      client.close();
    }
    assert.deepEqual((await fs.readdir(path.join(state, 'ca'))).sort(), [
      'ca-cert.pem',
      'ca-key.pem',
      'cert-chain.pem',
      'credential-signing-key.pem',
      'root-cert.pem',
      'root-key.pem',
    ]);
  } finally {
    assert.equal(await cp.stop('SIGTERM'), 0, cp.stderr());
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('trellis control-plane: bad CA flags exit 2 with the reason, before serving', async () => {
  const dir = await tempDir('trellis-cp-ca-');
  try {
    const base = [
      'control-plane',
      '--config',
      dir,
      '--xds-address',
      '127.0.0.1:0',
      '--http-address',
      '127.0.0.1:0',
    ];
    const cases: [string[], RegExp, number][] = [
      [['--workload-cert-ttl', 'forever'], /--workload-cert-ttl forever .* expected durations/, 2],
      [['--workload-cert-ttl', '500ms'], /at least 1s/, 2],
      [
        ['--workload-cert-ttl', '48h', '--max-workload-cert-ttl', '24h'],
        /the maximum no shorter than the default/,
        2,
      ],
      [['--trust-domain', 'Bad Domain'], /trust domain "Bad Domain" is not a SPIFFE trust domain/, 2],
      [['--ca-dir', path.join(dir, 'nope')], /the plug-in CA file ca-cert\.pem is missing/, 1],
      [['--trusted-roots', path.join(dir, 'nope.pem')], /cannot read the trusted roots: ENOENT/, 1],
    ];
    for (const [flags, message, code] of cases) {
      const r = await runTrellis([...base, ...flags]);
      assert.equal(r.code, code, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, flags.join(' '));
      assert.doesNotMatch(r.stdout, /serving xDS/);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test(
  'real processes: a proxy renews a 3 s certificate at half life and keeps running while the control plane is down',
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('trellis-cp-ca-');
    const state = path.join(dir, 'state');
    const cpArgs = [
      'control-plane',
      '--config',
      dir,
      '--state-dir',
      state,
      '--http-address',
      '127.0.0.1:0',
      '--workload-cert-ttl',
      '3s',
    ];
    const cp = startTrellis([...cpArgs, '--xds-address', '127.0.0.1:0']);
    let proxy: ReturnType<typeof startTrellis> | undefined;
    try {
      const [, xds] = await cp.waitForOutput(/serving xDS on (127\.0\.0\.1:\d+)/);
      const made = await runTrellis([
        'token',
        'create',
        '--namespace',
        'default',
        '--service-account',
        'web',
        '--kind',
        'workload',
        '--state-dir',
        state,
        '--output',
        path.join(dir, 'cred'),
      ]);
      assert.equal(made.code, 0, made.stderr);
      proxy = startTrellis(
        [
          'proxy',
          '--xds',
          xds as string,
          '--workload',
          'web',
          '--credential-file',
          path.join(dir, 'cred'),
          '--admin-port',
          '0',
          '--outbound-port',
          '0',
          '--inbound-port',
          '0',
          '--drain-seconds',
          '0',
        ],
        { env: { TRELLIS_LOG_LEVEL: 'info' } },
      );
      const p = proxy;
      await p.waitForOutput(
        /workload certificate spiffe:\/\/cluster\.local\/ns\/default\/sa\/web, valid until/,
      );
      // Renewed at half life (about 1.5 s): three certificates within a few seconds.
      await eventually(
        () => assert.ok((p.stderr().match(/workload certificate installed/g) ?? []).length >= 3, p.stderr()),
        {
          timeoutMs: 15_000,
          intervalMs: 100,
        },
      );
      assert.equal((p.stdout().match(/workload certificate spiffe/g) ?? []).length, 1, 'said once on stdout');

      // The control plane goes away: renewals fail, the proxy keeps running on what it has.
      assert.equal(await cp.stop('SIGTERM'), 0);
      await p.waitForOutput(/workload certificate request failed; keeping the current certificate/, 15_000);
      assert.equal(p.child.exitCode, null, 'still running');

      // Recovery when the control plane is back is tested in-process (ca-client.test.ts).
    } finally {
      if (proxy) assert.equal(await proxy.stop('SIGTERM'), 0, proxy.stderr());
      await cp.stop('SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);
