import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeaderMap } from '../../connection-manager/downstream.js';
import {
  FRAMING_CHUNKED,
  FRAMING_CLOSE,
  FRAMING_LENGTH,
  FRAMING_NONE,
  Http1ParseError,
  Http1Parser,
  type MessageHead,
} from './parser.js';

type Event =
  | { kind: 'head'; head: MessageHead }
  | { kind: 'body'; data: string }
  | { kind: 'end'; trailers: HeaderMap | undefined };

interface Run {
  events: Event[];
  error: Http1ParseError | undefined;
}

/** Parses `chunks` in order; consecutive body chunks are merged so splits compare equal. */
function parse(
  chunks: (string | Buffer)[],
  mode: 'request' | 'response' = 'request',
  opts: { finish?: boolean; maxHeaderBytes?: number; noBody?: boolean } = {},
): Run {
  const events: Event[] = [];
  const parser = new Http1Parser(
    {
      onHead: (head) => events.push({ kind: 'head', head }),
      onBody: (chunk) => {
        const last = events[events.length - 1];
        if (last?.kind === 'body') last.data += chunk.toString('latin1');
        else events.push({ kind: 'body', data: chunk.toString('latin1') });
      },
      onMessageEnd: (trailers) => events.push({ kind: 'end', trailers }),
    },
    { mode, maxHeaderBytes: opts.maxHeaderBytes ?? 60 * 1024 },
  );
  parser.noBodyExpected = opts.noBody === true;
  try {
    for (const c of chunks) parser.execute(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    if (opts.finish) parser.finish();
  } catch (err) {
    if (!(err instanceof Http1ParseError)) throw err;
    return { events, error: err };
  }
  return { events, error: undefined };
}

/** Every way of cutting `raw` in two, plus one byte at a time. */
function splits(raw: string): string[][] {
  const out: string[][] = [];
  for (let i = 1; i < raw.length; i++) out.push([raw.slice(0, i), raw.slice(i)]);
  out.push([...raw]);
  return out;
}

function heads(run: Run): MessageHead[] {
  return run.events.flatMap((e) => (e.kind === 'head' ? [e.head] : []));
}

function expectError(
  raw: string | string[],
  code: string,
  status = 400,
  mode: 'request' | 'response' = 'request',
) {
  const run = parse(Array.isArray(raw) ? raw : [raw], mode, { finish: mode === 'response' });
  assert.ok(run.error, `expected ${code} for ${JSON.stringify(raw)}`);
  assert.equal(run.error.code, code, JSON.stringify(raw));
  assert.equal(run.error.status, status, JSON.stringify(raw));
}

test('a simple GET: method, target, version, lower-case headers with OWS trimmed', () => {
  const run = parse(['GET /p?q=1 HTTP/1.1\r\nHost: reviews:9080\r\nX-Trace:  \t abc \t\r\nAccept:\r\n\r\n']);
  assert.equal(run.error, undefined);
  assert.equal(run.events.length, 2);
  const [h] = heads(run);
  assert.equal(h!.method, 'GET');
  assert.equal(h!.target, '/p?q=1');
  assert.equal(h!.minor, 1);
  assert.deepEqual(h!.headers, { host: 'reviews:9080', 'x-trace': 'abc', accept: '' });
  assert.equal(h!.keepAlive, true);
  assert.equal(h!.framing, FRAMING_NONE);
  assert.deepEqual(run.events[1], { kind: 'end', trailers: undefined });
});

test('duplicate fields combine as node does: set-cookie list, cookie with "; ", single-valued keep the first', () => {
  const run = parse([
    'GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nCookie: x=1\r\nCookie: y=2\r\n' +
      'Accept: a\r\nAccept: b\r\nUser-Agent: one\r\nUser-Agent: two\r\nconstructor: c\r\n__proto__: p\r\n\r\n',
  ]);
  const h = heads(run)[0]!.headers;
  assert.deepEqual(h['set-cookie'], ['a=1', 'b=2']);
  assert.equal(h.cookie, 'x=1; y=2');
  assert.equal(h.accept, 'a, b');
  assert.equal(h['user-agent'], 'one');
  assert.equal(h.constructor, 'c');
  assert.equal(Object.getPrototypeOf(h), Object.prototype);
});

test('connection semantics: HTTP/1.0 closes unless keep-alive, close wins, upgrade needs both headers', () => {
  const ka = (raw: string) => heads(parse([raw]))[0]!;
  assert.equal(ka('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
  assert.equal(ka('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
  assert.equal(ka('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n').keepAlive, false);
  const up = ka(
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  assert.equal(up.upgrade, true);
  assert.equal(ka('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade, false);
  assert.equal(ka('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n').upgrade, false);
  assert.equal(
    ka('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n').expectContinue,
    true,
  );
  expectError('POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n', 'HPE_EXPECTATION_FAILED', 417);
});

test('empty lines before a request line are ignored', () => {
  const run = parse(['\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n']);
  assert.equal(run.error, undefined);
  assert.equal(heads(run)[0]!.target, '/');
});

const PIPELINE =
  'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' +
  'POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '3;name=value;q="x y"\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Checksum: 1\r\nContent-Length: 9\r\n\r\n' +
  'GET /c HTTP/1.1\r\nHost: a\r\n\r\n';

test('pipelined requests with Content-Length and chunked bodies (extensions, trailers)', () => {
  const run = parse([PIPELINE]);
  assert.equal(run.error, undefined);
  const summary = run.events.map((e) =>
    e.kind === 'head'
      ? `head ${e.head.target}`
      : e.kind === 'body'
        ? `body ${e.data}`
        : `end ${JSON.stringify(e.trailers)}`,
  );
  assert.deepEqual(summary, [
    'head /a',
    'body hello',
    'end undefined',
    'head /b',
    'body abc0123456789',
    // Content-Length is not allowed in a trailer section: dropped.
    'end {"x-checksum":"1"}',
    'head /c',
    'end undefined',
  ]);
  assert.equal(heads(run)[0]!.framing, FRAMING_LENGTH);
  assert.equal(heads(run)[1]!.framing, FRAMING_CHUNKED);
});

test('the same events whatever the split, at every byte boundary and byte by byte', () => {
  const whole = parse([PIPELINE]);
  for (const parts of splits(PIPELINE)) {
    assert.deepEqual(parse(parts), whole, `split ${JSON.stringify(parts.slice(0, 2))}`);
  }
  const response =
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
    'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno';
  const wholeRes = parse([response], 'response');
  assert.equal(wholeRes.error, undefined);
  assert.equal(heads(wholeRes).length, 2);
  for (const parts of splits(response)) assert.deepEqual(parse(parts, 'response'), wholeRes);
});

test('malformed splits still fail the same way', () => {
  const bad = 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n Y: folded\r\n\r\n';
  for (const parts of splits(bad)) assert.equal(parse(parts).error?.code, 'HPE_INVALID_HEADER_TOKEN');
  const badChunk = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n';
  for (const parts of splits(badChunk)) assert.equal(parse(parts).error?.code, 'HPE_STRICT');
});

test('request smuggling vectors are rejected', () => {
  const base = 'POST / HTTP/1.1\r\nHost: a\r\n';
  expectError(
    `${base}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'HPE_UNEXPECTED_CONTENT_LENGTH',
  );
  expectError(
    `${base}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`,
    'HPE_UNEXPECTED_CONTENT_LENGTH',
  );
  expectError(`${base}Content-Length: 3\r\nContent-Length: 3\r\n\r\n`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  expectError(`${base}Content-Length: 3\r\nContent-Length: 4\r\n\r\n`, 'HPE_UNEXPECTED_CONTENT_LENGTH');
  for (const cl of ['3, 3', '+3', '-1', '0x10', '3 4', '1e3', '', '9999999999999999']) {
    expectError(`${base}Content-Length: ${cl}\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH');
  }
  expectError(`${base}Transfer-Encoding: gzip\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  expectError(`${base}Transfer-Encoding: xchunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  expectError(`${base}Transfer-Encoding: chunked, gzip\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  expectError(`${base}Transfer-Encoding: gzip, chunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING', 501);
  expectError(
    `${base}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'HPE_INVALID_TRANSFER_ENCODING',
    501,
  );
  expectError(
    `${base}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    'HPE_INVALID_TRANSFER_ENCODING',
    501,
  );
  expectError(`${base}Transfer-Encoding: ,chunked\r\n\r\n`, 'HPE_INVALID_TRANSFER_ENCODING');
  expectError('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING');
  // Case and surrounding whitespace of "chunked" are fine.
  assert.equal(heads(parse([`${base}Transfer-Encoding:  Chunked \r\n\r\n`]))[0]!.framing, FRAMING_CHUNKED);
  // obs-fold, whitespace before the colon, bare LF and bare CR, NUL and other controls.
  expectError(`${base}X: a\r\n\tb\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}Content-Length : 3\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}X: a\nContent-Length: 3\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}X: a\rContent-Length: 3\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}X: a\x00b\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}X: a\x7fb\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}: empty\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError(`${base}X\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  expectError('GET / HTTP/1.1\nHost: a\n\n', 'HPE_LF_EXPECTED');
  expectError(['GET / HTTP/1.1\r\nHost: a\n', '\n'], 'HPE_LF_EXPECTED');
  expectError('GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN');
  // Host: exactly one, valid, required in HTTP/1.1.
  expectError('GET / HTTP/1.1\r\n\r\n', 'HPE_MISSING_HOST');
  expectError('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'HPE_DUPLICATE_HOST');
  expectError('GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 'HPE_INVALID_HOST');
  expectError('GET / HTTP/1.1\r\nHost: user@a\r\n\r\n', 'HPE_INVALID_HOST');
  assert.equal(parse(['GET / HTTP/1.0\r\n\r\n']).error, undefined, 'HTTP/1.0 needs no Host');
});

test('chunked framing is strict: sizes, extensions, CRLF after data', () => {
  const base = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
  expectError(`${base}g\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  expectError(`${base};ext\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  expectError(`${base}-1\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  expectError(`${base}1 x\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  expectError(`${base}fffffffffffffff\r\n`, 'HPE_INVALID_CHUNK_SIZE');
  expectError(`${base}3\nabc\r\n`, 'HPE_STRICT');
  expectError(`${base}3 \nabc\r\n`, 'HPE_STRICT');
  expectError(`${base}3;a\nabc\r\n`, 'HPE_INVALID_CHUNK_EXTENSION');
  expectError(`${base}3;a\rb\r\nabc\r\n`, 'HPE_STRICT');
  expectError(`${base}3\r\nabcX\r\n`, 'HPE_STRICT');
  expectError(`${base}3\r\nabc\rX`, 'HPE_STRICT');
  expectError(`${base}3\r\nabc\n0\r\n\r\n`, 'HPE_STRICT');
  expectError(`${base}3;${'x'.repeat(5000)}\r\n`, 'HPE_CHUNK_EXTENSIONS_OVERFLOW');
  expectError(`${base}0\r\nX: 1\n\r\n`, 'HPE_LF_EXPECTED');
  expectError(`${base}0\r\nX: 1\nY: 2\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN');
  // Upper-case hex, whitespace before an extension, leading zeros.
  const ok = parse([`${base}00A \t;x=1\r\n0123456789\r\n0000\r\n\r\n`]);
  assert.equal(ok.error, undefined);
  assert.deepEqual(ok.events.slice(1), [
    { kind: 'body', data: '0123456789' },
    { kind: 'end', trailers: undefined },
  ]);
});

test('request lines: methods are tokens, targets have no whitespace, versions are 1.0 or 1.1', () => {
  expectError('G@T / HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_METHOD');
  expectError(' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_METHOD');
  expectError('GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_URL');
  expectError('GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION');
  expectError('GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_URL');
  expectError('GET /\r\nHost: a\r\n\r\n', 'HPE_INVALID_URL');
  expectError('GET / http/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION');
  expectError('GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION');
  expectError('GET / HTTP/2.0\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION', 505);
  expectError('GET / HTTP/1.2\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION', 505);
  expectError('GARBAGE / NOT-HTTP\r\n\r\n', 'HPE_INVALID_VERSION');
  const abs = heads(parse(['GET http://reviews:9080/p HTTP/1.1\r\nHost: reviews:9080\r\n\r\n']))[0]!;
  assert.equal(abs.target, 'http://reviews:9080/p');
  // Raw non-ASCII bytes in a target are kept (as latin1), as node's parser did.
  assert.equal(
    heads(parse([Buffer.from('GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1')]))[0]!.target,
    '/caf\xe9',
  );
});

test('a head larger than the limit is 431, however it arrives', () => {
  const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(2000)}\r\n\r\n`;
  const small = parse([big], 'request', { maxHeaderBytes: 1024 });
  assert.equal(small.error?.code, 'HPE_HEADER_OVERFLOW');
  assert.equal(small.error?.status, 431);
  const pieces = parse([...big.slice(0, 1500)], 'request', { maxHeaderBytes: 1024 });
  assert.equal(pieces.error?.code, 'HPE_HEADER_OVERFLOW', 'byte by byte, before the head is complete');
  assert.equal(parse([big], 'request', { maxHeaderBytes: 4096 }).error, undefined);
});

test('pause holds pipelined requests until resume; detach hands over the bytes after an upgrade head', () => {
  const seen: string[] = [];
  const parser: Http1Parser = new Http1Parser(
    {
      onHead: (h) => seen.push(`head ${h.target}`),
      onBody: () => undefined,
      onMessageEnd: () => {
        seen.push('end');
        parser.pause();
      },
    },
    { mode: 'request', maxHeaderBytes: 1024 },
  );
  parser.execute(
    Buffer.from('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HT'),
  );
  assert.deepEqual(seen, ['head /1', 'end']);
  assert.equal(parser.isPaused, true);
  parser.execute(Buffer.from('TP/1.1\r\nHost: a\r\n\r\n'));
  assert.deepEqual(seen, ['head /1', 'end']);
  parser.resume();
  assert.deepEqual(seen, ['head /1', 'end', 'head /2', 'end']);
  parser.resume();
  assert.deepEqual(seen, ['head /1', 'end', 'head /2', 'end', 'head /3', 'end']);
  parser.resume();
  assert.equal(parser.idle, true);

  let upgraded: MessageHead | undefined;
  const up = new Http1Parser(
    {
      onHead: (h) => (upgraded = h),
      onBody: () => assert.fail('no body'),
      onMessageEnd: () => assert.fail('no end'),
    },
    { mode: 'request', maxHeaderBytes: 1024 },
  );
  up.execute(
    Buffer.from(
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\nContent-Length: 2\r\n\r\nraw',
    ),
  );
  up.execute(Buffer.from(' bytes'));
  assert.equal(upgraded?.upgrade, true);
  assert.equal(up.detach().toString(), 'raw bytes');
});

test('responses: Content-Length, chunked with trailers, close-delimited, and bodiless statuses', () => {
  const cl = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a\r\n\r\nok'], 'response');
  assert.equal(heads(cl)[0]!.status, 200);
  assert.equal(heads(cl)[0]!.reason, 'OK');
  assert.deepEqual(heads(cl)[0]!.headers['set-cookie'], ['a']);
  assert.deepEqual(cl.events.slice(1), [
    { kind: 'body', data: 'ok' },
    { kind: 'end', trailers: undefined },
  ]);
  const chunked = parse(
    [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n2\r\nok\r\n0\r\ngrpc-status: 0\r\n\r\n',
    ],
    'response',
  );
  assert.deepEqual(chunked.events.at(-1), { kind: 'end', trailers: { 'grpc-status': '0' } });
  const close = parse(['HTTP/1.1 200 OK\r\n\r\nall', ' of it'], 'response', { finish: true });
  assert.equal(heads(close)[0]!.framing, FRAMING_CLOSE);
  assert.equal(heads(close)[0]!.keepAlive, false);
  assert.deepEqual(close.events.slice(1), [
    { kind: 'body', data: 'all of it' },
    { kind: 'end', trailers: undefined },
  ]);
  const noReason = parse(['HTTP/1.1 204\r\nContent-Length: 10\r\n\r\n'], 'response');
  assert.equal(noReason.error, undefined);
  assert.equal(heads(noReason)[0]!.framing, FRAMING_NONE);
  assert.equal(
    parse(['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'], 'response').events.length,
    2,
  );
  const head = parse(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'], 'response', { noBody: true });
  assert.equal(head.events.length, 2, 'a response to HEAD has no body whatever it says');
  const v10 = heads(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'], 'response'))[0]!;
  assert.equal(v10.keepAlive, false);
  expectError(
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HPE_UNEXPECTED_CONTENT_LENGTH',
    400,
    'response',
  );
  expectError('HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HPE_UNEXPECTED_UPGRADE', 400, 'response');
  expectError('HTTP/1.1 20 OK\r\n\r\n', 'HPE_INVALID_STATUS', 400, 'response');
  expectError('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc', 'HPE_INCOMPLETE', 400, 'response');
  expectError(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
    'HPE_INCOMPLETE',
    400,
    'response',
  );
  // A response whose transfer coding does not end in chunked is delimited by the close.
  assert.equal(
    heads(parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'], 'response'))[0]!.framing,
    FRAMING_CLOSE,
  );
});

test('finish() between messages is clean; in the middle of a head or body it is an error', () => {
  assert.equal(parse(['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], 'request', { finish: true }).error, undefined);
  assert.equal(parse(['GET / HTTP/1.1\r\nHo'], 'request', { finish: true }).error?.code, 'HPE_INCOMPLETE');
  assert.equal(
    parse(['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\na'], 'request', { finish: true }).error
      ?.code,
    'HPE_INCOMPLETE',
  );
});

test('Upgrade: h2c is not an upgrade: Upgrade, HTTP2-Settings and their Connection tokens are dropped', () => {
  const head = heads(
    parse([
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, x-trace\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nX-Trace: 1\r\n\r\n',
    ]),
  )[0]!;
  assert.equal(head.upgrade, false);
  assert.equal(head.keepAlive, true);
  assert.equal(head.headers.upgrade, undefined);
  assert.equal(head.headers['http2-settings'], undefined);
  assert.equal(head.headers.connection, 'x-trace');
  assert.equal(head.headers['x-trace'], '1');
  const only = heads(parse(['GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: H2C\r\n\r\n']))[0]!;
  assert.equal(only.upgrade, false);
  assert.equal(only.headers.connection, undefined);
  // Other protocols still upgrade.
  const ws = heads(
    parse(['GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n']),
  )[0]!;
  assert.equal(ws.upgrade, true);
});
