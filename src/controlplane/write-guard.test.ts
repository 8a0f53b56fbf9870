/**
 * /v1 writes from beyond the control plane's machine need an editor token (the console's roles
 * would mean nothing if the same port took writes from anyone through /v1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { MemoryConfigStore } from '../config/memory-store.js';
import { ConsoleAuth } from './console/auth.js';
import { ControlPlane } from './control-plane.js';
import type { TokenEntry } from './console/tokens.js';
import { checkWrite, isLoopbackPeer } from './write-guard.js';

const TOKENS: TokenEntry[] = [
  { token: 'ed-token', user: 'alice', uid: '1', groups: ['trellis:editors'], role: 'editor' },
  { token: 'view-token', user: 'bob', uid: '2', groups: ['trellis:viewers'], role: 'viewer' },
];

test('loopback peers in every spelling, and nothing else', () => {
  for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])
    assert.equal(isLoopbackPeer(a), true, a);
  for (const a of [
    undefined,
    '',
    '10.0.0.1',
    '::ffff:10.0.0.1',
    '128.0.0.1',
    'fd00::1',
    '::',
    '0.0.0.0',
    '::ffff:7f00:1x',
  ])
    assert.equal(isLoopbackPeer(a), false, String(a));
});

test('reads pass; writes from loopback pass; remote writes need an editor token', () => {
  const auth = new ConsoleAuth(TOKENS);
  const remote = { remoteAddress: '10.1.2.3', path: '/v1/config' };
  const rows: [Parameters<typeof checkWrite>[0], ConsoleAuth | undefined, true | 401 | 403][] = [
    [{ ...remote, method: 'GET', authorization: undefined }, auth, true],
    [{ ...remote, method: 'POST', path: '/console/api/apply', authorization: undefined }, auth, true],
    [
      { method: 'POST', path: '/v1/config', remoteAddress: '127.0.0.1', authorization: undefined },
      auth,
      true,
    ],
    [{ method: 'POST', path: '/v1/config', remoteAddress: '::1', authorization: undefined }, undefined, true],
    [{ ...remote, method: 'POST', authorization: undefined }, auth, 401],
    [{ ...remote, method: 'POST', authorization: 'Bearer nope' }, auth, 401],
    [{ ...remote, method: 'POST', authorization: 'Bearer view-token' }, auth, 403],
    [{ ...remote, method: 'POST', authorization: 'Bearer ed-token' }, auth, true],
    [{ ...remote, method: 'DELETE', path: '/v1/config/vs/default/r', authorization: undefined }, auth, 401],
    [{ ...remote, method: 'POST', path: '/v1/registrations', authorization: undefined }, auth, 401],
    [{ ...remote, method: 'PUT', path: '/v1', authorization: undefined }, auth, 401],
    [{ ...remote, method: 'POST', authorization: 'Bearer ed-token' }, undefined, 403],
    [{ ...remote, method: 'POST', authorization: undefined, remoteAddress: undefined }, undefined, 403],
  ];
  for (const [req, a, want] of rows) {
    const v = checkWrite(req, a);
    assert.equal(v.ok ? true : v.status, want, JSON.stringify(req));
  }
  const v = checkWrite({ ...remote, method: 'POST', authorization: undefined }, undefined);
  assert.match(v.ok ? '' : v.message, /--console-tokens/);
});

/** A local address that is not loopback, if this machine has one. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;

test(
  'through the HTTP API: a write over a non-loopback address is refused without an editor token',
  { skip: external === undefined ? 'this machine has no non-loopback IPv4 address' : false },
  async (t) => {
    const cp = new ControlPlane({
      config: new MemoryConfigStore(),
      debounce: { quietMs: 1, maxMs: 10 },
      console: { tokens: TOKENS },
    });
    const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '0.0.0.0', port: 0 });
    t.after(() => cp.stop());
    const doc = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'ext', namespace: 'default' },
      spec: {
        hosts: ['ext.example.com'],
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        resolution: 'DNS',
      },
    };
    const post = (host: string, token?: string) =>
      fetch(`http://${host}:${bound.http.port}/v1/config`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(doc),
      });
    const refused = await post(external!);
    assert.equal(refused.status, 401);
    assert.match(JSON.stringify(await refused.json()), /TRELLIS_UNAUTHENTICATED/);
    assert.equal((await post(external!, 'view-token')).status, 403);
    assert.equal(
      (await fetch(`http://${external!}:${bound.http.port}/v1/config/serviceentries`)).status,
      200,
    );
    assert.equal((await post(external!, 'ed-token')).status, 200);
    assert.equal((await post('127.0.0.1')).status, 200, 'the local CLI needs no token');
  },
);

test('DNS rebinding and cross-site writes: a loopback peer naming a foreign Host, or a /v1 write with an Origin, is refused', () => {
  const local = { remoteAddress: '127.0.0.1', authorization: undefined };
  const rows: [Parameters<typeof checkWrite>[0], true | 403][] = [
    [{ ...local, method: 'GET', path: '/v1/config', host: '127.0.0.1:15014' }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: 'localhost:15014' }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: '[::1]:15014' }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: 'app.localhost' }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: `${os.hostname()}:15014` }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: 'cp.internal:15014' }, true],
    [{ ...local, method: 'GET', path: '/v1/config', host: 'rebind.evil.example:15014' }, 403],
    [{ ...local, method: 'GET', path: '/debug/syncz', host: 'rebind.evil.example' }, 403],
    [{ ...local, method: 'GET', path: '/console/', host: '127.0.0.1.evil.example' }, 403],
    [{ ...local, method: 'POST', path: '/v1/config', host: '127.0.0.1:15014' }, true],
    [
      {
        ...local,
        method: 'POST',
        path: '/v1/config',
        host: '127.0.0.1:15014',
        origin: 'https://evil.example',
      },
      403,
    ],
    [{ ...local, method: 'POST', path: '/v1/config', host: '127.0.0.1:15014', origin: 'null' }, 403],
    [
      {
        ...local,
        method: 'GET',
        path: '/v1/config',
        host: '127.0.0.1:15014',
        origin: 'https://evil.example',
      },
      true,
    ],
    [
      {
        ...local,
        method: 'POST',
        path: '/console/api/config',
        host: '127.0.0.1:15014',
        origin: 'http://127.0.0.1:15014',
      },
      true,
    ],
    // A remote peer may name the machine as it knows it; its writes need a token anyway.
    [
      {
        method: 'GET',
        path: '/v1/config',
        remoteAddress: '10.0.0.9',
        authorization: undefined,
        host: 'cp.example',
      },
      true,
    ],
  ];
  for (const [req, want] of rows) {
    const v = checkWrite(req, undefined, 'cp.internal');
    assert.equal(v.ok ? true : v.status, want, JSON.stringify(req));
  }
});

test('through the HTTP API: a rebinding Host and a cross-site text/plain write are refused', async (t) => {
  const cp = new ControlPlane({ config: new MemoryConfigStore(), debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  t.after(() => cp.stop());
  const http = await import('node:http');
  const send = (headers: Record<string, string>, method = 'POST') =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: bound.http.port, path: '/v1/config', method, headers },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(
        method === 'POST'
          ? JSON.stringify({
              apiVersion: 'networking.istio.io/v1',
              kind: 'Sidecar',
              metadata: { name: 'x', namespace: 'default' },
              spec: { egress: [{ hosts: ['./*'] }] },
            })
          : undefined,
      );
    });
  assert.equal(await send({ host: 'rebind.evil.example', 'content-type': 'application/json' }, 'GET'), 403);
  assert.equal(
    await send({
      host: `127.0.0.1:${bound.http.port}`,
      origin: 'https://evil.example',
      'content-type': 'text/plain;charset=UTF-8',
    }),
    403,
  );
  assert.equal(await send({ host: `127.0.0.1:${bound.http.port}`, 'content-type': 'application/json' }), 200);
});
