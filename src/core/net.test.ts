import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { listenOn } from './net.js';

test('listenOn resolves with the bound port and rejects when the port is taken', async () => {
  const a = net.createServer();
  const port = await listenOn(a, '127.0.0.1', 0);
  assert.ok(port > 0);
  const b = net.createServer();
  await assert.rejects(
    listenOn(b, '127.0.0.1', port),
    (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
  );
  a.close();
  b.close();
});
