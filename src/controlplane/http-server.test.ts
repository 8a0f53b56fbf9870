/**
 * The control plane's HTTP API under malformed input, over real sockets: every bad request gets
 * a 4xx with a coded JSON error, a failing handler gets a 500, and the server keeps answering.
 * (Regression: `GET /v1/%zz` used to end the process with an unhandled URIError.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryConfigStore } from '../config/memory-store.js';
import { memoryLogger } from '../core/logger.js';
import { TrellisError } from '../core/errors.js';
import { listenOn } from '../core/net.js';
import { ControlPlane } from './control-plane.js';
import { HttpRouter } from './http-server.js';
import { rawRequest } from '../core/testing/raw-http.js';

const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`;

async function withControlPlane(fn: (port: number) => Promise<void>): Promise<void> {
  const cp = new ControlPlane({ config: new MemoryConfigStore(), debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  try {
    await fn(bound.http.port);
  } finally {
    await cp.stop();
  }
}

async function assertStillServing(port: number): Promise<void> {
  const ok = await rawRequest(port, get('/v1/registrations'));
  assert.equal(ok.status, 200, ok.body);
}

test('control plane HTTP: malformed requests get a 4xx with a coded error and the server carries on', async () => {
  await withControlPlane(async (port) => {
    const cases: [string, string | Buffer, number, string][] = [
      ['bad percent-escape', get('/v1/%zz'), 400, 'TRELLIS_BAD_REQUEST'],
      ['bad escape in a param', get('/v1/config/vs/default/%E0%A4%A'), 400, 'TRELLIS_BAD_REQUEST'],
      ['invalid request line', 'GARBAGE\r\n\r\n', 400, 'TRELLIS_BAD_REQUEST'],
      ['unknown method', 'BREW /ready HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', 400, 'TRELLIS_BAD_REQUEST'],
      ['absolute-form target', get('http://[::1/ready'), 400, 'TRELLIS_BAD_REQUEST'],
      [
        'wrong method',
        'DELETE /ready HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n',
        405,
        'TRELLIS_METHOD_NOT_ALLOWED',
      ],
      ['unknown path', get('/nope'), 404, 'TRELLIS_NOT_FOUND'],
      [
        'bad JSON body',
        'POST /v1/registrations HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: 5\r\n\r\n{oops',
        400,
        'TRELLIS_INVALID_ARGUMENT',
      ],
      [
        'registration that is not an object',
        'POST /v1/registrations HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: 4\r\n\r\nnull',
        400,
        'TRELLIS_INVALID_ARGUMENT',
      ],
      [
        'oversized body (declared)',
        'POST /v1/config HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 99999999\r\n\r\n{',
        413,
        'TRELLIS_TOO_LARGE',
      ],
      [
        'oversized body (streamed)',
        Buffer.concat([
          Buffer.from('POST /v1/registrations HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n'),
          Buffer.from(`900000\r\n${'x'.repeat(0x900000)}\r\n`),
        ]),
        413,
        'TRELLIS_TOO_LARGE',
      ],
      [
        'header block too large',
        `GET /ready HTTP/1.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        'TRELLIS_TOO_LARGE',
      ],
    ];
    for (const [name, bytes, status, code] of cases) {
      const res = await rawRequest(port, bytes);
      assert.equal(res.status, status, `${name}: ${res.body}`);
      assert.equal(res.json().error?.code, code, `${name}: ${res.body}`);
      await assertStillServing(port);
    }
  });
});

test('control plane HTTP: a handler that throws or rejects is a 500 with a log line; the process carries on', async () => {
  const { logger, lines: all } = memoryLogger('api');
  const lines = () => all.filter((l) => / error /.test(l));
  const router = new HttpRouter(logger)
    .on('GET', '/sync', () => {
      throw new TypeError('boom (sync)');
    })
    .on('GET', '/async', async () => {
      await Promise.resolve();
      throw new RangeError('boom (async)');
    })
    .on('GET', '/coded', () => {
      throw new TrellisError('TRELLIS_CONFLICT', 'lost a race');
    })
    .on('GET', '/unserializable', () => ({ json: { n: 1n } }))
    .on('GET', '/ok', () => ({ json: { ok: true } }));
  const server = router.createServer();
  const port = await listenOn(server, '127.0.0.1', 0);
  try {
    for (const path of ['/sync', '/async', '/unserializable']) {
      const res = await rawRequest(port, get(path));
      assert.equal(res.status, 500, `${path}: ${res.body}`);
      assert.equal(res.json().error?.code, 'TRELLIS_INTERNAL', path);
      assert.equal((await rawRequest(port, get('/ok'))).status, 200);
    }
    const coded = await rawRequest(port, get('/coded'));
    assert.equal(coded.status, 409);
    assert.equal(coded.json().error?.code, 'TRELLIS_CONFLICT');
    assert.equal(lines().length, 3, lines().join('\n'));
    assert.match(lines()[0]!, /boom \(sync\)/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
