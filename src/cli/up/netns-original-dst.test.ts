import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { isTrellisError } from '../../core/errors.js';
import { listenOn } from '../../core/net.js';
import { loadOriginalDestination, type OriginalDestination } from './netns-original-dst.js';

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    execFileSync('iptables', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iptables';
  }
  try {
    loadOriginalDestination();
  } catch {
    return 'the native addon is not built';
  }
  return undefined;
}

test('a missing addon is a clear error that says how to build it', () => {
  assert.throws(
    () => loadOriginalDestination('/nonexistent/trellis_netns.node'),
    (err: unknown) =>
      isTrellisError(err, 'TRELLIS_UNSUPPORTED') && /cd native && npx node-gyp rebuild/.test(err.message),
  );
});

const reason = unavailable();
test(
  `reads the address a connection was sent to before DNAT${reason ? ` (skipped: ${reason})` : ''}`,
  { skip: reason !== undefined },
  async (t) => {
    const read = loadOriginalDestination();
    let seen: OriginalDestination | undefined;
    const server = net.createServer((s) => {
      seen = read(s);
      s.end();
    });
    const port = await listenOn(server, '127.0.0.1', 0);
    // A documentation address (TEST-NET-3) rewritten to the server, as `up --capture netns` does.
    const rule = [
      '-t',
      'nat',
      'OUTPUT',
      '-d',
      '203.0.113.7/32',
      '-p',
      'tcp',
      '--dport',
      '9080',
      '-j',
      'DNAT',
      '--to-destination',
      `127.0.0.1:${port}`,
    ];
    const iptables = (op: string) =>
      execFileSync('iptables', ['-w', rule[0] ?? '', rule[1] ?? '', op, ...rule.slice(2)]);
    iptables('-A');
    t.after(() => {
      iptables('-D');
      server.close();
    });
    await new Promise<void>((resolve, reject) => {
      const c = net.connect({ host: '203.0.113.7', port: 9080 });
      c.on('close', () => resolve());
      c.on('error', reject);
      c.resume();
    });
    assert.deepEqual(seen, { address: '203.0.113.7', port: 9080 });
  },
);
