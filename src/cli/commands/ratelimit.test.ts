import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isTrellisError } from '../../core/errors.js';
import type { CommandIo } from '../command.js';
import { command } from './ratelimit.js';

const BIN = path.resolve(import.meta.dirname, '../../../bin/trellis.mjs');
const io: CommandIo = { stdout: () => undefined, stderr: () => undefined, env: {}, cwd: process.cwd() };

test('trellis ratelimit: flags are checked before anything starts', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--config or --control-plane is required/],
    [['--config', 'x.yaml', '--control-plane', 'http://127.0.0.1:1'], /exclusive/],
    [['--control-plane', '127.0.0.1:15014'], /expected an http:\/\/ or https:\/\/ URL/],
    [['--control-plane', 'http://127.0.0.1:1', '--poll-interval', 'often'], /--poll-interval/],
    [['--control-plane', 'http://127.0.0.1:1', '--grpc-impl', 'fastest'], /expected one of fast, grpc-js/],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(
      command.run(argv, io),
      (e: unknown) => isTrellisError(e, 'TRELLIS_INVALID_ARGUMENT') && message.test(e.message),
      argv.join(' '),
    );
  }
});

test('trellis ratelimit --control-plane: serves, becomes ready with the polled config, stops on SIGTERM', async () => {
  const control = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        revision: 7,
        domains: [
          {
            domain: 'edge',
            descriptors: [{ key: 'user', rate_limit: { unit: 'second', requests_per_unit: 1 } }],
          },
        ],
      }),
    );
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  const child = spawn(
    process.execPath,
    [
      BIN,
      'ratelimit',
      '--control-plane',
      url,
      '--poll-interval',
      '100ms',
      '--grpc-address',
      '127.0.0.1:0',
      '--http-address',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    let out = '';
    const httpBase = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const h = /on (http:\/\/\S+)/.exec(out);
        if (h && out.includes('applied revision 7')) resolve(h[1]!);
      });
      void exited.then((code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
    assert.equal((await fetch(`${httpBase}/ready`)).status, 200);
    const config = (await (await fetch(`${httpBase}/config`)).json()) as { domains: { domain: string }[] };
    assert.deepEqual(
      config.domains.map((d) => d.domain),
      ['edge'],
    );
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /stopped/);
  } finally {
    child.kill('SIGKILL');
    control.closeAllConnections();
    await new Promise<void>((resolve) => control.close(() => resolve()));
  }
});
