/**
 * Routing sees the normalized path (issue #10, finding 3): with Istio's default path
 * normalization (normalize_path on the connection manager), `/public/../admin` and its encoded
 * forms are routed as `/admin` and cannot reach a backend that only `/public` may reach; what the
 * backend receives is the normalized path. Fragments never leave the proxy; bytes no request
 * target may hold get 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startServiceMesh } from '../testing/service-mesh.js';

async function mesh(t: { after(fn: () => Promise<void>): void }, hcm: Record<string, unknown>) {
  const seen: string[] = [];
  const m = await startServiceMesh(t, {
    backend: (req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    },
    listener: { hcm },
    match: { prefix: '/public' },
  });
  return { port: m.port, seen };
}

/** One raw HTTP/1.1 request (the target exactly as given); returns the status. */
async function status(port: number, target: string): Promise<number> {
  const out = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () =>
      c.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: app:9080\r\nConnection: close\r\n\r\n`, 'latin1')),
    );
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
}

const BASE = { normalize_path: { value: true } };

test('BASE: dot segments, encoded dots and backslashes cannot climb out of an allowed prefix', async (t) => {
  const { port, seen } = await mesh(t, BASE);
  for (const bypass of [
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/.%2e/admin',
    '/public/..\\admin',
    '/public/./../admin',
    '/public/../../public/../admin',
  ])
    assert.equal(await status(port, bypass), 404, bypass);
  assert.deepEqual(seen, []);
  // What stays inside the prefix is routed, and the backend receives the normalized path.
  assert.equal(await status(port, '/public/a/../b'), 200);
  assert.equal(await status(port, '/%70ublic/x'), 200);
  assert.equal(await status(port, '/public/x?next=/../admin'), 200);
  assert.equal(await status(port, '/public/frag#/../../admin'), 200);
  assert.deepEqual(seen, ['/public/b', '/public/x', '/public/x?next=/../admin', '/public/frag']);
});

test('invalid bytes and malformed escapes in the path get 400', async (t) => {
  const { port, seen } = await mesh(t, BASE);
  assert.equal(await status(port, '/public/\xff'), 400);
  assert.equal(await status(port, '/public/\x7f'), 400);
  assert.equal(await status(port, '/public/%zz'), 400);
  assert.deepEqual(seen, []);
});

test('HTTP/2 :path is normalized the same way', async (t) => {
  const { port, seen } = await mesh(t, BASE);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => void session.close());
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': path, ':authority': 'app:9080' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
    });
  assert.equal(await get('/public/../admin'), 404);
  assert.equal(await get('/public/%2e%2e/admin'), 404);
  assert.equal(await get('/public/y/../z'), 200);
  assert.deepEqual(seen, ['/public/z']);
});

test('NONE (no normalize_path): the path is routed and forwarded as sent', async (t) => {
  const { port, seen } = await mesh(t, {});
  assert.equal(await status(port, '/public/../admin'), 200);
  assert.deepEqual(seen, ['/public/../admin']);
});

test('merge_slashes and the escaped-slash actions', async (t) => {
  const merged = await mesh(t, { ...BASE, merge_slashes: true });
  assert.equal(await status(merged.port, '//public//x'), 200);
  assert.deepEqual(merged.seen, ['/public/x']);
  const rejecting = await mesh(t, { ...BASE, path_with_escaped_slashes_action: 'REJECT_REQUEST' });
  assert.equal(await status(rejecting.port, '/public%2F..%2Fadmin'), 400);
  const decoding = await mesh(t, {
    ...BASE,
    merge_slashes: true,
    path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
  });
  assert.equal(await status(decoding.port, '/public%2F..%2Fadmin'), 404);
  assert.equal(await status(decoding.port, '/public%2Fx'), 200);
  assert.deepEqual(decoding.seen, ['/public/x']);
  assert.deepEqual(rejecting.seen, []);
});
