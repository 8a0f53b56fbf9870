import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import {
  credentials,
  makeGenericClientConstructor,
  status,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { decodeMessage, encodeMessage } from '../../protocol/protos.js';
import { rateLimitClient } from '../testdata/grpc-client.js';
import { RateLimitService } from '../service.js';
import type { RateLimitRequest, RateLimitResponse } from '../service.js';
import {
  FastRateLimitGrpcServer,
  SHOULD_RATE_LIMIT_PATH,
  encodeGrpcMessage,
  parseGrpcTimeout,
} from './fast-server.js';

const REQUEST = 'envoy.service.ratelimit.v3.RateLimitRequest';
const RESPONSE = 'envoy.service.ratelimit.v3.RateLimitResponse';
const GOOD: RateLimitRequest = {
  domain: 'edge',
  descriptors: [{ entries: [{ key: 'user', value: 'alice' }] }],
};

function frame(message: Uint8Array, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

async function startServer(handler?: (r: RateLimitRequest) => Promise<RateLimitResponse>) {
  const service = new RateLimitService();
  service.setConfig([
    { domain: 'edge', descriptors: [{ key: 'user', rate_limit: { unit: 'minute', requests_per_unit: 2 } }] },
  ]);
  const server = new FastRateLimitGrpcServer({ handler: handler ?? ((r) => service.shouldRateLimit(r)) });
  const port = await server.listen('127.0.0.1', 0);
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      await server.close(100);
      await service.close();
    },
  };
}

interface RawResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a raw HTTP/2 session, so tests can send what no gRPC library would. */
async function rawCall(
  session: http2.ClientHttp2Session,
  body: Buffer,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<RawResult> {
  const req = session.request({
    ':method': 'POST',
    ':path': SHOULD_RATE_LIMIT_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  return new Promise((resolve, reject) => {
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      responseHeaders = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  });
}

/** grpc-status from the trailers, or from the headers of a trailers-only response. */
function grpcStatus(r: RawResult): number {
  return Number(r.trailers['grpc-status'] ?? r.headers['grpc-status']);
}

test('fast gRPC server: a stock @grpc/grpc-js client gets decisions, also with gzip and many calls at once', async () => {
  const s = await startServer();
  const plain = rateLimitClient(s.address);
  const gzip = rateLimitClient(s.address, { 'grpc.default_compression_algorithm': 2 });
  try {
    const first = await plain.shouldRateLimit(GOOD);
    assert.equal(first.overall_code, 'OK');
    assert.deepEqual(first.statuses[0]?.current_limit, { requests_per_unit: 2, unit: 'MINUTE' });
    assert.equal(first.statuses[0]?.limit_remaining, 1);
    assert.equal((await gzip.shouldRateLimit(GOOD)).overall_code, 'OK');
    assert.equal((await plain.shouldRateLimit(GOOD)).overall_code, 'OVER_LIMIT');
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        plain.shouldRateLimit({
          domain: 'edge',
          descriptors: [{ entries: [{ key: 'user', value: `u${i}` }] }],
        }),
      ),
    );
    assert.ok(many.every((r) => r.overall_code === 'OK'));
  } finally {
    plain.close();
    gzip.close();
    await s.close();
  }
});

test('fast gRPC server: errors reach a stock client as gRPC statuses (INVALID_ARGUMENT, UNIMPLEMENTED)', async () => {
  const s = await startServer();
  const client = rateLimitClient(s.address);
  // A client for a method the server does not have.
  const Other = makeGenericClientConstructor(
    {
      Check: {
        path: '/envoy.service.auth.v3.Authorization/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (v: Buffer) => v,
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (v: Buffer) => v,
      },
    },
    'Authorization',
  );
  const other = new Other(s.address, credentials.createInsecure()) as unknown as Client & {
    Check: (req: Buffer, cb: (err: ServiceError | null) => void) => void;
  };
  try {
    await assert.rejects(
      client.shouldRateLimit({ domain: '', descriptors: [] }),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && /domain must not be empty/.test(e.details),
    );
    const err = await new Promise<ServiceError | null>((resolve) => other.Check(Buffer.alloc(0), resolve));
    assert.equal(err?.code, status.UNIMPLEMENTED);
    // The connection is still good for real calls.
    assert.equal((await client.shouldRateLimit(GOOD)).overall_code, 'OK');
  } finally {
    client.close();
    other.close();
    await s.close();
  }
});

test('fast gRPC server: malformed frames get INTERNAL on their own stream; other calls are unaffected', async () => {
  const s = await startServer();
  const session = http2.connect(`http://${s.address}`);
  const client = rateLimitClient(s.address);
  try {
    const good = frame(encodeMessage(REQUEST, GOOD));
    const bad = [
      Buffer.from([0, 0]), // shorter than the 5-byte prefix
      Buffer.from([0, 0, 0, 0, 9, 1, 2]), // length prefix longer than the body
      Buffer.concat([good, good]), // two messages in a unary call
      frame(Buffer.from([0x0a, 0x7f, 0x41])), // protobuf string past the end
      frame(Buffer.from('not gzip'), 1), // compressed flag without grpc-encoding
      Buffer.from([7, 0, 0, 0, 0]), // unknown flag
    ];
    const results = await Promise.all([
      ...bad.map((b) => rawCall(session, b)),
      rawCall(session, good),
      client.shouldRateLimit(GOOD),
    ]);
    for (const r of results.slice(0, bad.length) as RawResult[]) {
      assert.equal(grpcStatus(r), status.INTERNAL);
      assert.ok(r.headers['grpc-message'] ?? r.trailers['grpc-message']);
    }
    const raw = results[bad.length] as RawResult;
    assert.equal(grpcStatus(raw), status.OK);
    const decoded = decodeMessage<{ overall_code: string }>(RESPONSE, raw.body.subarray(5));
    assert.equal(decoded.overall_code, 'OK');
    assert.equal((results[bad.length + 1] as RateLimitResponse).overall_code, 'OK');
    // The same HTTP/2 connection keeps working after all those errors.
    assert.equal(grpcStatus(await rawCall(session, good)), status.OK);
  } finally {
    session.close();
    client.close();
    await s.close();
  }
});

test('fast gRPC server: deflate bodies, unknown encodings, deadlines and non-gRPC requests', async () => {
  let release: (() => void) | undefined;
  const s = await startServer(
    (r) =>
      new Promise((resolve) => {
        if (r.domain === 'slow') release = () => resolve({ overall_code: 'OK', statuses: [] });
        else resolve({ overall_code: 'OK', statuses: [{ code: 'OK' }] });
      }),
  );
  const session = http2.connect(`http://${s.address}`);
  try {
    const message = encodeMessage(REQUEST, GOOD);
    const deflated = await rawCall(session, frame(zlib.deflateSync(message), 1), {
      'grpc-encoding': 'deflate',
    });
    assert.equal(grpcStatus(deflated), status.OK);
    const brotli = await rawCall(session, frame(message), { 'grpc-encoding': 'br' });
    assert.equal(grpcStatus(brotli), status.UNIMPLEMENTED);
    assert.equal(brotli.headers['grpc-accept-encoding'], 'identity,deflate,gzip');
    const slow = frame(encodeMessage(REQUEST, { ...GOOD, domain: 'slow' }));
    const late = await rawCall(session, slow, { 'grpc-timeout': '20m' });
    assert.equal(grpcStatus(late), status.DEADLINE_EXCEEDED);
    release?.(); // the decision arriving after the deadline is dropped, not sent
    assert.equal(grpcStatus(await rawCall(session, slow, { 'grpc-timeout': 'soon' })), status.INTERNAL);
    const json = await rawCall(session, Buffer.from('{}'), { 'content-type': 'application/json' });
    assert.equal(json.headers[':status'], 415);
  } finally {
    session.close();
    await s.close();
  }
});

test('fast gRPC server: grpc-timeout and grpc-message encodings', () => {
  assert.equal(parseGrpcTimeout(undefined), undefined);
  assert.equal(parseGrpcTimeout('20m'), 20);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('500u'), 0.5);
  assert.ok(Number.isNaN(parseGrpcTimeout('123456789m')), 'at most 8 digits');
  assert.ok(Number.isNaN(parseGrpcTimeout('5x')));
  assert.equal(encodeGrpcMessage('plain text: ok'), 'plain text: ok');
  assert.equal(encodeGrpcMessage('100% é\n'), '100%25 %C3%A9%0A');
});

test(
  'fast gRPC server: garbage bytes and a throwing handler end one connection or call, never the process',
  { timeout: 20_000 },
  async () => {
    let explode = false;
    const service = new RateLimitService();
    service.setConfig([
      {
        domain: 'edge',
        descriptors: [{ key: 'user', rate_limit: { unit: 'minute', requests_per_unit: 100 } }],
      },
    ]);
    const s = await startServer((r) => {
      if (explode) throw new TypeError('handler exploded');
      return service.shouldRateLimit(r);
    });
    const client = rateLimitClient(s.address);
    try {
      // Not an HTTP/2 connection preface: the server must close this connection and nothing else.
      const [host, port] = s.address.split(':') as [string, string];
      const garbage = net.connect(Number(port), host);
      garbage.on('error', () => undefined);
      garbage.resume(); // read to the server's FIN
      garbage.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n\x00\xff garbage \x00\x00\x00\x04\x00');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('garbage connection was not closed within 5 s')),
          5000,
        );
        garbage.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      assert.equal((await client.shouldRateLimit(GOOD)).overall_code, 'OK');

      explode = true;
      await assert.rejects(client.shouldRateLimit(GOOD), (e: { code: status; details: string }) => {
        assert.equal(e.code, status.INTERNAL);
        assert.match(e.details, /handler exploded/);
        return true;
      });
      explode = false;
      assert.equal((await client.shouldRateLimit(GOOD)).overall_code, 'OK');
    } finally {
      client.close();
      await s.close();
      await service.close();
    }
  },
);
