/**
 * Upgrade requests cannot carry bytes past routing (issue #10, finding 2): an upgrade is routed
 * like any request, allowed only for the types the connection manager enables (Istio: websocket),
 * and the tunnel opens only after the upstream answers 101. Bytes a client sends after the head
 * are held until then; after a non-101 answer (or a local reply) the connection closes and they
 * are never forwarded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import net from 'node:net';
import { eventually } from '../../core/testing/eventually.js';
import { heldRequests, startBackend, type Backend } from '../testing/harness.js';
import { startServiceMesh } from '../testing/service-mesh.js';

/** A backend that records every request path it parses (node parses pipelined requests too). */
async function recordingBackend(seen: string[]): Promise<Backend> {
  return startBackend('app', (req, res) => {
    seen.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
}

async function mesh(
  t: { after(fn: () => Promise<void>): void },
  backend: Backend,
  upgradeTypes = ['websocket'],
) {
  return startServiceMesh(t, { backend, listener: { upgradeTypes }, match: { prefix: '/public' } });
}

/** Sends raw bytes and collects what comes back until the proxy closes (bounded). */
async function exchange(port: number, bytes: string, timeoutMs = 3000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(bytes));
    let got = '';
    const timer = setTimeout(() => {
      c.destroy();
      resolve(got + '<still open>');
    }, timeoutMs);
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    c.on('error', reject);
  });
}

test('a smuggled request after a websocket upgrade that got no 101 never reaches the backend', async (t) => {
  const seen: string[] = [];
  const backend = await recordingBackend(seen);
  const m = await mesh(t, backend);
  const out = await exchange(
    m.port,
    'GET /public HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' +
      'GET /admin-SMUGGLED HTTP/1.1\r\nHost: app:9080\r\n\r\n',
  );
  assert.match(out, /^HTTP\/1\.1 200 /);
  assert.match(out, /connection: close/i);
  assert.doesNotMatch(out, /<still open>/);
  // The connection closed after the one response; the backend saw only the routed request.
  assert.equal((out.match(/HTTP\/1\.1 /g) ?? []).length, 1);
  assert.deepEqual(seen, ['/public']);
});

test('an upgrade type the connection manager does not enable is refused with 403, unrouted bytes dropped', async (t) => {
  const seen: string[] = [];
  const backend = await recordingBackend(seen);
  const m = await mesh(t, backend);
  const out = await exchange(
    m.port,
    'GET /public HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n' +
      'GET /admin-SMUGGLED HTTP/1.1\r\nHost: app:9080\r\n\r\n',
  );
  assert.match(out, /^HTTP\/1\.1 403 /);
  assert.deepEqual(seen, []);
});

test('an upgrade to a path no route allows gets 404 and nothing reaches the backend', async (t) => {
  const seen: string[] = [];
  const backend = await recordingBackend(seen);
  const m = await mesh(t, backend);
  const out = await exchange(
    m.port,
    'GET /admin HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nraw-bytes',
  );
  assert.match(out, /^HTTP\/1\.1 404 /);
  assert.deepEqual(seen, []);
});

test('bytes sent before the 101 are held until the upstream switched protocols', async (t) => {
  const backend = await startBackend('ws');
  const beforeSwitch: string[] = [];
  backend.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    // Whatever arrives before the 101 was forwarded early: record it.
    if (head.length > 0) beforeSwitch.push(head.toString());
    const early = (d: Buffer) => beforeSwitch.push(d.toString());
    socket.on('data', early);
    setTimeout(() => {
      socket.off('data', early);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    }, 150);
    socket.on('end', () => socket.end());
  });
  const m = await mesh(t, backend);
  const out = await new Promise<string>((resolve, reject) => {
    const c = net.connect(m.port, '127.0.0.1', () =>
      c.write(
        'GET /public/chat HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly',
      ),
    );
    let got = '';
    const deadline = setTimeout(() => {
      c.destroy();
      resolve(got);
    }, 3000);
    c.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('echo:early')) {
        clearTimeout(deadline);
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', reject);
  });
  assert.match(out, /^HTTP\/1.1 101 Switching Protocols\r\n/);
  assert.match(out, /echo:early/);
  assert.deepEqual(beforeSwitch, []);
  // Once the tunnel closes, its metrics sample counts what the client sent through it.
  await eventually(
    () => /^istio_request_bytes_sum\{[^}]*response_code="101"[^}]*\} 5$/m.test(m.proxy.stats.prometheus()),
    'the 101 sample with the 5 bytes sent',
  );
});

test('an upgrade request with a body is refused', async (t) => {
  const seen: string[] = [];
  const backend = await recordingBackend(seen);
  const m = await mesh(t, backend);
  const out = await exchange(
    m.port,
    'POST /public HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello',
  );
  assert.match(out, /^HTTP\/1\.1 400 /);
  assert.deepEqual(seen, []);
});

test('an upgrade config with enabled: false refuses that upgrade', async (t) => {
  const seen: string[] = [];
  const backend = await recordingBackend(seen);
  const m = await startServiceMesh(t, {
    backend,
    listener: { hcm: { upgrade_configs: [{ upgrade_type: 'websocket', enabled: { value: false } }] } },
  });
  const out = await exchange(
    m.port,
    'GET /public HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  assert.match(out, /^HTTP\/1\.1 403 /);
  assert.deepEqual(seen, []);
});

/** A backend whose upgrade handler writes `answer` raw and then runs `then(socket)`. */
async function rawUpgradeBackend(answer: string, then: (socket: net.Socket) => void): Promise<Backend> {
  const backend = await startBackend('ws');
  backend.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    socket.write(answer);
    // Upgraded sockets are half-open capable: close ours when the proxy closes its side.
    socket.on('end', () => socket.end());
    then(socket);
  });
  return backend;
}

test('a tunnel whose upstream closed releases its request at once, however long the client stays', async (t) => {
  const backend = await rawUpgradeBackend(
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    (socket) => setTimeout(() => socket.destroy(), 50),
  );
  const m = await mesh(t, backend);
  // A client that never closes its side on its own.
  const c = net.connect({ port: m.port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => undefined);
  let got = '';
  let ended = false;
  c.on('data', (d: Buffer) => (got += d.toString()));
  c.on('end', () => (ended = true));
  c.write('GET /public/ws HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  await eventually(() => got.startsWith('HTTP/1.1 101'), 'the 101');
  await eventually(() => heldRequests(m.proxy).length === 0, 'the tunnel to let go of its request');
  // The client got our FIN (its socket stays half open only because it asked for that).
  await eventually(() => ended, 'the FIN from the proxy');
  c.destroy();
});

test('interim answers before the 101 are dropped and the tunnel opens', async (t) => {
  const backend = await rawUpgradeBackend(
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    (socket) => socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`)),
  );
  const m = await mesh(t, backend);
  const c = net.connect(m.port, '127.0.0.1');
  c.on('error', () => undefined);
  let got = '';
  c.on('data', (d: Buffer) => (got += d.toString()));
  c.write('GET /public/ws HTTP/1.1\r\nHost: app:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhi');
  await eventually(() => got.includes('echo:hi'), 'the echo through the tunnel');
  assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.doesNotMatch(got, /100 Continue/);
  c.destroy();
});
