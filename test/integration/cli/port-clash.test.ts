import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bindFailure, portClashMessage } from '../../../src/cli/port-clash.js';

const BIN = path.resolve(import.meta.dirname, '../../../bin/trellis.mjs');

test('bindFailure: gRPC bindAsync and node listen messages, with causes and aggregates', () => {
  const grpc =
    'No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:15010]';
  assert.deepEqual(bindFailure(grpc), { code: 'EADDRINUSE', host: '127.0.0.1', port: 15010 });
  assert.deepEqual(bindFailure('listen EADDRINUSE: address already in use [::1]:8080'), {
    code: 'EADDRINUSE',
    host: '::1',
    port: 8080,
  });
  assert.deepEqual(bindFailure('listen EADDRNOTAVAIL: address not available 10.9.9.9:15014'), {
    code: 'EADDRNOTAVAIL',
    host: '10.9.9.9',
    port: 15014,
  });
  assert.deepEqual(bindFailure('listen EADDRNOTAVAIL: address not available 10.9.9.9'), {
    code: 'EADDRNOTAVAIL',
    host: '10.9.9.9',
  });
  assert.deepEqual(bindFailure('listen EACCES: permission denied 0.0.0.0:80'), {
    code: 'EACCES',
    host: '0.0.0.0',
    port: 80,
  });
  assert.deepEqual(bindFailure('Name resolution failed for target dns:nohost.invalid:15010'), {
    code: 'ENOTFOUND',
    host: 'nohost.invalid',
    port: 15010,
  });
  assert.deepEqual(bindFailure('getaddrinfo ENOTFOUND nohost.invalid'), {
    code: 'ENOTFOUND',
    host: 'nohost.invalid',
  });
  assert.equal(bindFailure('connect ECONNREFUSED 127.0.0.1:15010'), undefined);
  assert.equal(bindFailure('no such file'), undefined);
});

test('portClashMessage: the flag that asked for the port, else every port flag', () => {
  const flags = [
    { flag: 'xds-port', zero: '--xds-port 0', port: 15010 },
    { flag: 'http-port', zero: '--http-port 0', port: 15014 },
    { flag: 'base-port', zero: '--base-port 0', port: 0 },
  ];
  const inUse = (port: number) =>
    new Error('outer', {
      cause: new AggregateError([new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`)]),
    });
  assert.equal(
    portClashMessage(inUse(15010), 'up', flags),
    'port 15010 is in use (another trellis up?); pass --xds-port 0 for any free port, or another port',
  );
  assert.equal(
    portClashMessage(inUse(15014), 'control-plane', flags),
    'port 15014 is in use (another trellis control-plane?); pass --http-port 0 for any free port, or another port',
  );
  assert.equal(
    portClashMessage(inUse(21000), 'up', flags),
    'port 21000 is in use (another trellis up?); choose other ports with --xds-port, --http-port, --base-port (0: any free port)',
  );
  assert.equal(
    portClashMessage(
      new Error('listen EADDRNOTAVAIL: address not available 10.9.9.9:15014'),
      'control-plane',
      flags,
    ),
    'cannot listen on 10.9.9.9:15014: 10.9.9.9 is not an address of this machine; check --http-port',
  );
  const addresses = [
    { flag: 'xds-address', zero: '--xds-port 0', port: 0, host: 'nohost.invalid' },
    { flag: 'http-address', zero: '--http-port 0', port: 0, host: '10.9.9.9' },
  ];
  assert.equal(
    portClashMessage(
      new Error('listen EADDRNOTAVAIL: address not available 10.9.9.9'),
      'control-plane',
      addresses,
    ),
    'cannot listen on 10.9.9.9: 10.9.9.9 is not an address of this machine; check --http-address',
  );
  assert.equal(
    portClashMessage(
      new Error('Name resolution failed for target dns:nohost.invalid:0'),
      'control-plane',
      addresses,
    ),
    'cannot listen on nohost.invalid:0: "nohost.invalid" does not resolve; check --xds-address (an IP address such as 127.0.0.1)',
  );
  // A client's failed lookup (apply --control-plane http://nohost) is not a bind failure.
  assert.equal(
    portClashMessage(new Error('cannot reach the control plane (getaddrinfo ENOTFOUND nohost)'), 'apply', []),
    undefined,
  );
  assert.equal(portClashMessage(new Error('boom'), 'up', flags), undefined);
});

/** Holds a port on 127.0.0.1 for the test. */
async function holdPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Runs the CLI to its exit (bounded): status and stderr. */
function runCli(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, TRELLIS_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`trellis ${args.join(' ')} did not exit within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('a port in use is reported with the flag to change, and the process exits 1 (control-plane, up, ratelimit, proxy)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-clash-'));
  const held = await holdPort();
  try {
    await mkdir(path.join(dir, 'config'));
    await writeFile(
      path.join(dir, 'mesh.yaml'),
      `apiVersion: trellis.io/v1alpha1
kind: Mesh
metadata: { name: tiny }
spec:
  config: config
  workloads:
    - name: echo-v1
      service: echo
      ports: [{ port: 9080, protocol: http }]
      command: [node, -e, "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1')"]
`,
    );
    const p = String(held.port);
    const cases: [string[], string][] = [
      [
        ['control-plane', '--config', 'config', '--xds-port', p, '--http-port', '0'],
        `trellis control-plane: port ${p} is in use (another trellis control-plane?); pass --xds-port 0 for any free port, or another port\n`,
      ],
      [
        [
          'control-plane',
          '--config',
          'config',
          '--xds-address',
          '127.0.0.1:0',
          '--http-address',
          `127.0.0.1:${p}`,
        ],
        `trellis control-plane: port ${p} is in use (another trellis control-plane?); pass --http-port 0 for any free port, or another port\n`,
      ],
      [
        ['up', '.', '--xds-port', p, '--http-port', '0', '--base-port', '0'],
        `trellis up: port ${p} is in use (another trellis up?); pass --xds-port 0 for any free port, or another port\n`,
      ],
      [
        ['ratelimit', '--config', 'config', '--grpc-port', '0', '--http-port', p],
        `trellis ratelimit: port ${p} is in use (another trellis ratelimit?); pass --http-port 0 for any free port, or another port\n`,
      ],
      [
        [
          'proxy',
          '--xds-address',
          '127.0.0.1:1',
          '--admin-port',
          '0',
          '--outbound-port',
          p,
          '--inbound-port',
          '0',
        ],
        `trellis proxy: port ${p} is in use (another trellis proxy?); pass --outbound-port 0 for any free port, or another port\n`,
      ],
    ];
    for (const [args, line] of cases) {
      const state =
        args[0] === 'ratelimit' || args[0] === 'proxy' ? [] : ['--state-dir', path.join(dir, 'state')];
      const r = await runCli([...args, ...state], dir);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.endsWith(line), `${args.join(' ')}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n {4}at /, 'no stack trace');
    }
  } finally {
    await held.close();
    await rm(dir, { recursive: true, force: true });
  }
});
