/** `trellis ratelimit` as a process: progress lines, gRPC answers, live reload, clean SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rateLimitClient } from '../../src/ratelimit/testdata/grpc-client.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/trellis.mjs');

const CONFIG = `
domain: edge
descriptors:
  - key: remote_address
    rate_limit:
      unit: minute
      requests_per_unit: 2
`;

test('cli: trellis ratelimit serves, reloads its config file and stops on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rl-cli-'));
  const file = path.join(dir, 'edge.yaml');
  fs.writeFileSync(file, CONFIG);
  const child = spawn(
    process.execPath,
    [
      BIN,
      'ratelimit',
      '--config',
      dir,
      '--grpc-address',
      '127.0.0.1:0',
      '--http-address',
      '127.0.0.1:0',
      '--response-headers',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = stdout.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    check();
  });
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (re: RegExp) =>
    Promise.race([
      new Promise<RegExpMatchArray>((resolve) => {
        waiters.push({ re, resolve });
        check();
      }),
      exited.then((code) => assert.fail(`exited with ${code} before ${re}:\n${stdout}\n${stderr}`)),
    ]);
  try {
    await line(/loaded 1 domain\(s\) from .*: edge/);
    const [, grpcPort] = await line(/gRPC RateLimitService listening on 127\.0\.0\.1:(\d+)/);
    const [, httpUrl] = await line(/HTTP \/metrics \/ready \/config on (http:\/\/\S+)/);
    const client = rateLimitClient(`127.0.0.1:${grpcPort}`);
    const ask = async () =>
      client.shouldRateLimit({
        domain: 'edge',
        descriptors: [{ entries: [{ key: 'remote_address', value: '10.0.0.1' }] }],
      });
    try {
      assert.deepEqual(
        [(await ask()).overall_code, (await ask()).overall_code, (await ask()).overall_code],
        ['OK', 'OK', 'OVER_LIMIT'],
      );
      assert.equal(
        (await ask()).response_headers_to_add?.find((h) => h.key === 'x-ratelimit-limit')?.value,
        '2',
      );
      assert.equal((await fetch(`${httpUrl}/ready`)).status, 200);

      fs.writeFileSync(file, CONFIG.replace('requests_per_unit: 2', 'requests_per_unit: 3'));
      await line(/reloaded /);
      const after = await ask();
      assert.deepEqual(after.statuses[0]!.current_limit, { requests_per_unit: 3, unit: 'MINUTE' });

      fs.writeFileSync(file, 'domain: edge\ndescriptors: 7\n');
      await line(/kept the last good config/);
      assert.match(stderr, /edge\.yaml: .*descriptors: expected a list of descriptors/);
      assert.equal((await ask()).statuses[0]!.current_limit?.requests_per_unit, 3);
    } finally {
      client.close();
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stdout, /SIGTERM: shutting down\n.*stopped\n$/);
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cli: trellis ratelimit refuses an invalid config file naming the file and field', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rl-cli-'));
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    file,
    'domain: edge\ndescriptors:\n  - key: a\n    rate_limit: {unit: weekly, requests_per_unit: 1}\n',
  );
  try {
    const child = spawn(
      process.execPath,
      [BIN, 'ratelimit', '--config', file, '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(
      stderr,
      /bad\.yaml: 1 problem:\n\s+descriptors\[0\]\.rate_limit\.unit: expected one of second, minute, hour, day/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
