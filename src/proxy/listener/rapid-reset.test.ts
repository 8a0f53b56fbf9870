/**
 * HTTP/2 rapid reset (CVE-2023-44487; issue #10, finding 8): a connection that opens streams and
 * resets them before any response is closed by the proxy, as Envoy closes one with too many
 * premature resets; what it started is released, and other clients are served meanwhile. A
 * client that cancels some calls among many good ones keeps its connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { eventually } from '../../core/testing/eventually.js';
import { heldRequests, request } from '../testing/harness.js';
import { startServiceMesh } from '../testing/service-mesh.js';

function mesh(t: { after(fn: () => Promise<void>): void }) {
  return startServiceMesh(t, {
    backend: (_req, res) => {
      // Slow enough that a reset always comes before the response.
      setTimeout(() => {
        res.writeHead(200, { 'content-length': '2' });
        res.end('ok');
      }, 20);
    },
  });
}

test('a connection that opens and resets streams in a loop is closed; others are served', async (t) => {
  const m = await mesh(t);
  const attacker = http2.connect(`http://127.0.0.1:${m.port}`);
  attacker.on('error', () => undefined);
  const closed = new Promise<void>((r) => attacker.once('close', () => r()));
  let sent = 0;
  let stop = false;
  const flood = async () => {
    while (!stop && !attacker.destroyed && sent < 5000) {
      for (let i = 0; i < 50 && !attacker.destroyed; i++) {
        try {
          const s = attacker.request({ ':path': '/', ':authority': 'app:9080' });
          s.on('error', () => undefined);
          s.close(http2.constants.NGHTTP2_CANCEL);
          sent++;
        } catch {
          stop = true;
          break;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  };
  const flooding = flood();
  // A good client meanwhile.
  const good = await request(m.port, { host: 'app:9080' });
  assert.equal(good.status, 200);
  await Promise.race([
    closed,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`not closed after ${sent} resets`)), 10_000),
    ),
  ]);
  stop = true;
  await flooding;
  // Envoy's rule: closed once 250 of the first 500 streams were reset before a response.
  assert.ok(sent >= 250 && sent < 5000, `closed after ${sent} streams`);
  assert.match(m.proxy.stats.prometheus(), /^envoy_http_downstream_rq_too_many_premature_resets 1$/m);
  await eventually(() => heldRequests(m.proxy).length === 0, 'nothing held');
  assert.equal((await request(m.port, { host: 'app:9080' })).status, 200);
});

test('a client that cancels some calls among good ones keeps its connection', async (t) => {
  const m = await mesh(t);
  const client = http2.connect(`http://127.0.0.1:${m.port}`);
  client.on('error', () => undefined);
  t.after(() => void client.close());
  let ok = 0;
  for (let round = 0; round < 30; round++) {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      const s = client.request({ ':path': '/', ':authority': 'app:9080' });
      s.on('error', () => undefined);
      if (i % 4 === 0) {
        s.close(http2.constants.NGHTTP2_CANCEL);
        continue;
      }
      calls.push(
        new Promise<void>((resolve) => {
          s.on('response', (h) => {
            if (h[':status'] === 200) ok++;
          });
          s.resume();
          s.on('close', () => resolve());
        }),
      );
    }
    await Promise.all(calls);
  }
  assert.equal(client.destroyed, false);
  assert.equal(ok, 30 * 15);
  assert.doesNotMatch(m.proxy.stats.prometheus(), /premature_resets/);
});
