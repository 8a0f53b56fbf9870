/**
 * HTTP/2 cases. Through node's HTTP/2 client: random settings (initial window 0..65535), up to
 * 40 streams with bodies, big responses held by flow control, resets with random codes at
 * random times, GOAWAY, session destroy mid-response, content-length that disagrees with the
 * DATA sent (the h2 -> h1 downgrade smuggle), headers node may refuse to send. And as raw frames
 * after the preface: wrong lengths, unknown types, SETTINGS/PING/CONTINUATION floods, broken
 * HPACK, fields HTTP/2 forbids (Transfer-Encoding, Connection, CR/LF in values) and rapid reset.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Dice } from './dice.js';
import type { Ledger } from './invariants.js';
import { fuzzPath } from './paths.js';

const AUTHORITY = 'app:9080';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function smuggled(id: string): string {
  return `GET /admin/smuggled HTTP/1.1\r\nHost: ${AUTHORITY}\r\nx-fuzz-id: ${id}\r\n\r\n`;
}

const RESET_CODES = [
  http2.constants.NGHTTP2_NO_ERROR,
  http2.constants.NGHTTP2_PROTOCOL_ERROR,
  http2.constants.NGHTTP2_INTERNAL_ERROR,
  http2.constants.NGHTTP2_FLOW_CONTROL_ERROR,
  http2.constants.NGHTTP2_REFUSED_STREAM,
  http2.constants.NGHTTP2_CANCEL,
  http2.constants.NGHTTP2_ENHANCE_YOUR_CALM,
];

/** Plays one client-driven HTTP/2 case; resolves with the first status seen (or how it ended). */
export async function runH2Case(d: Dice, caseId: string, port: number, ledger: Ledger): Promise<string> {
  const settings: http2.Settings = {
    initialWindowSize: d.chance(0.3) ? 0 : d.int(0, 65535),
    enablePush: false,
  };
  if (d.chance(0.2)) settings.maxFrameSize = d.pick([16384, 16777215]);
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings });
  session.on('error', () => undefined);
  const outcomes: string[] = [];
  const open = new Set<http2.ClientHttp2Stream>();
  const timers: NodeJS.Timeout[] = [];
  const n = d.pick([1, 1, 2, 3, 5, 8, 20, 40]);
  try {
    await Promise.race([new Promise((r) => session.once('connect', r)), sleep(500)]);
    for (let i = 0; i < n && !session.destroyed; i++) {
      const id = `${caseId}-${i}`;
      const method = d.pick(['GET', 'GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE']);
      const path = d.chance(0.25) ? `/public/big?kb=${d.pick([16, 64, 200, 1024])}` : fuzzPath(d).path;
      const headers: http2.OutgoingHttpHeaders = {
        ':method': method,
        ':path': path,
        ':authority': d.chance(0.95) ? AUTHORITY : d.pick(['admin:9080', 'app:9081', '']),
        ':scheme': 'http',
        'x-fuzz-id': id,
      };
      let body: Buffer | undefined;
      if (method === 'POST' || method === 'PUT' || d.chance(0.05))
        body = Buffer.alloc(d.pick([0, 10, 1000, 70_000, 300_000]), 0x63);
      if (d.chance(0.15)) {
        // Content-length that disagrees with the DATA: the extra bytes are a request.
        body = Buffer.from('hello' + smuggled(`${caseId}-s${i}`));
        headers['content-length'] = d.pick(['5', '0', '3']);
      }
      if (d.chance(0.1))
        Object.assign(
          headers,
          d.pick<http2.OutgoingHttpHeaders>([
            { 'transfer-encoding': 'chunked' },
            { connection: 'upgrade', upgrade: 'websocket' },
            { te: 'gzip' },
            { 'x-crlf': `a\r\n\r\n${smuggled(`${caseId}-s${i}`)}` },
            { 'x-nul': 'a\x00b' },
            { host: 'admin:9080' },
            { 'x-high': 'caf\xe9' },
          ]),
        );
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: body === undefined && d.chance(0.9) });
      } catch {
        outcomes.push('client-refused');
        continue;
      }
      ledger.send(caseId, id, 'maybe', `h2 ${method} ${path}`);
      open.add(stream);
      stream.on('error', () => undefined);
      stream.on('close', () => open.delete(stream));
      stream.on('response', (h) => outcomes.push(String(h[':status'])));
      // Either read everything, or never read: the response is then held by flow control.
      if (d.chance(0.6)) stream.resume();
      if (body !== undefined) {
        const end = d.chance(0.85);
        stream.write(body, () => undefined);
        if (end) stream.end();
      }
      if (d.chance(0.3)) {
        const code = d.pick(RESET_CODES);
        timers.push(setTimeout(() => stream.close(code), d.int(0, 30)));
      }
      if (d.chance(0.3)) await sleep(d.int(0, 5));
    }
    const action = d.pick(['none', 'none', 'destroy', 'goaway', 'close', 'settings']);
    await sleep(d.int(0, 40));
    if (action === 'destroy') session.destroy();
    else if (action === 'goaway') session.goaway(d.pick(RESET_CODES));
    else if (action === 'close') session.close();
    else if (action === 'settings' && !session.destroyed)
      session.settings({ initialWindowSize: d.int(0, 65535) }, () => undefined);
    const deadline = Date.now() + 200;
    while (open.size > 0 && !session.destroyed && Date.now() < deadline) await sleep(10);
  } finally {
    for (const t of timers) clearTimeout(t);
    session.destroy();
  }
  return outcomes[0] ?? (session.destroyed ? 'no-response' : 'none');
}

// --- raw frames -----------------------------------------------------------------------------

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW: 8, CONT: 9 };
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;

function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer,
  length = payload.length,
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(n: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (n < max) return Buffer.from([first | n]);
  const out = [first | max];
  n -= max;
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** HPACK literal fields without indexing, new names, no Huffman: any bytes go through. */
function hpack(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const nb = Buffer.from(name, 'latin1');
    const vb = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0]), hpackInt(nb.length, 7), nb, hpackInt(vb.length, 7), vb);
  }
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function requestFields(id: string, path = '/public/ok', method = 'GET'): [string, string][] {
  return [
    [':method', method],
    [':scheme', 'http'],
    [':authority', AUTHORITY],
    [':path', path],
    ['x-fuzz-id', id],
  ];
}

/** Builds the frames of a raw case; registers the requests it sends. */
function rawFrames(d: Dice, caseId: string, ledger: Ledger): { bytes: Buffer; what: string[] } {
  const out: Buffer[] = [PREFACE, frame(T.SETTINGS, 0, 0, Buffer.alloc(0))];
  const what: string[] = [];
  let sid = 1;
  let n = 0;
  const request = (fields: [string, string][], label: string, id: string) => {
    ledger.send(caseId, id, 'maybe', `raw h2 ${label}`);
    return fields;
  };
  for (let k = d.int(1, 6); k > 0; k--) {
    const id = `${caseId}-${n}`;
    const smuggleId = `${caseId}-s${n}`;
    n++;
    const kind = d.pick([
      'request',
      'request',
      'cl-mismatch',
      'forbidden-field',
      'bad-path',
      'unknown-type',
      'wrong-length',
      'settings-flood',
      'ping-flood',
      'window-update',
      'rst-idle',
      'continuation',
      'data-stream-0',
      'garbage',
      'bad-hpack',
      'priority-self',
      'bad-padding',
      'rapid-reset',
      'goaway',
      'even-stream',
    ]);
    what.push(kind);
    switch (kind) {
      case 'request': {
        const path = fuzzPath(d).path;
        const fields = request(requestFields(id, path), `request ${JSON.stringify(path)}`, id);
        out.push(frame(T.HEADERS, END_HEADERS | END_STREAM, sid, hpack(fields)));
        sid += 2;
        break;
      }
      case 'cl-mismatch': {
        const fields = request(
          [...requestFields(id, '/public/ok', 'POST'), ['content-length', d.pick(['0', '5'])]],
          'content-length mismatch',
          id,
        );
        out.push(frame(T.HEADERS, END_HEADERS, sid, hpack(fields)));
        out.push(frame(T.DATA, END_STREAM, sid, Buffer.from('hello' + smuggled(smuggleId))));
        sid += 2;
        break;
      }
      case 'forbidden-field': {
        const field = d.pick<[string, string]>([
          ['transfer-encoding', 'chunked'],
          ['connection', 'close'],
          ['upgrade', 'websocket'],
          ['keep-alive', '5'],
          ['te', 'gzip'],
          ['X-Upper', 'a'],
          ['x name', 'a'],
          ['x-crlf', `a\r\n\r\n${smuggled(smuggleId)}`],
          ['x-lf', `a\nx-fuzz-id: ${smuggleId}`],
          ['x-nul', 'a\x00b'],
          ['host', 'admin:9080'],
          [':path', '/admin'],
          [':custom', 'x'],
          ['', 'empty-name'],
        ]);
        const fields = request([...requestFields(id), field], `field ${JSON.stringify(field[0])}`, id);
        out.push(frame(T.HEADERS, END_HEADERS | END_STREAM, sid, hpack(fields)));
        sid += 2;
        break;
      }
      case 'bad-path': {
        const path = d.pick([
          '',
          'public',
          '/public/a b',
          '/public/\x00',
          '/public/\xff',
          '*',
          '/public/#x',
          '/public/..',
        ]);
        const fields = request(requestFields(id, path), `:path ${JSON.stringify(path)}`, id);
        out.push(frame(T.HEADERS, END_HEADERS | END_STREAM, sid, hpack(fields)));
        sid += 2;
        break;
      }
      case 'unknown-type':
        out.push(frame(d.int(10, 255), d.int(0, 255), d.int(0, 9), Buffer.alloc(d.int(0, 64), 7)));
        break;
      case 'wrong-length': {
        const payload = hpack(request(requestFields(id), 'wrong frame length', id));
        out.push(
          frame(
            T.HEADERS,
            END_HEADERS | END_STREAM,
            sid,
            payload,
            payload.length + d.pick([-3, -1, 1, 9, 70000]),
          ),
        );
        sid += 2;
        break;
      }
      case 'settings-flood':
        for (let i = d.int(100, 3000); i > 0; i--) out.push(frame(T.SETTINGS, 0, 0, Buffer.alloc(0)));
        break;
      case 'ping-flood':
        for (let i = d.int(100, 3000); i > 0; i--) out.push(frame(T.PING, 0, 0, Buffer.alloc(8, i & 0xff)));
        break;
      case 'window-update':
        out.push(frame(T.WINDOW, 0, d.pick([0, sid]), u32(d.pick([0, 0x7fffffff, 1]))));
        out.push(frame(T.WINDOW, 0, 0, u32(0x7fffffff)));
        break;
      case 'rst-idle':
        out.push(frame(T.RST, 0, sid + 10, u32(8)));
        break;
      case 'continuation': {
        const block = hpack(request(requestFields(id), 'continuation flood', id));
        out.push(frame(T.HEADERS, END_STREAM, sid, block.subarray(0, 5)));
        for (let i = d.int(1, 300); i > 0; i--)
          out.push(frame(T.CONT, 0, sid, hpack([['x-c', 'v'.repeat(50)]])));
        if (d.chance(0.5)) out.push(frame(T.CONT, END_HEADERS, sid, block.subarray(5)));
        sid += 2;
        break;
      }
      case 'data-stream-0':
        out.push(frame(T.DATA, 0, 0, Buffer.from(smuggled(smuggleId))));
        break;
      case 'garbage':
        out.push(Buffer.from(Array.from({ length: d.int(1, 100) }, () => d.int(0, 255))));
        break;
      case 'bad-hpack':
        out.push(
          frame(
            T.HEADERS,
            END_HEADERS | END_STREAM,
            sid,
            d.pick([
              Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
              Buffer.from([0x3f, 0xe1, 0xff, 0xff, 0x0f]),
              Buffer.from([0x00, 0x85]),
            ]),
          ),
        );
        sid += 2;
        break;
      case 'priority-self':
        out.push(frame(T.PRIORITY, 0, sid, Buffer.concat([u32(sid), Buffer.from([16])])));
        break;
      case 'bad-padding': {
        const block = hpack(request(requestFields(id), 'bad padding', id));
        out.push(
          frame(
            T.HEADERS,
            END_HEADERS | END_STREAM | PADDED,
            sid,
            Buffer.concat([Buffer.from([250]), block]),
          ),
        );
        sid += 2;
        break;
      }
      case 'rapid-reset':
        for (let i = d.int(10, 200); i > 0; i--) {
          out.push(
            frame(
              T.HEADERS,
              END_HEADERS | END_STREAM,
              sid,
              hpack(request(requestFields(`${caseId}-r${sid}`), 'rapid reset', `${caseId}-r${sid}`)),
            ),
          );
          out.push(frame(T.RST, 0, sid, u32(8)));
          sid += 2;
        }
        break;
      case 'goaway':
        out.push(frame(T.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(d.int(0, 13))])));
        break;
      case 'even-stream':
        out.push(
          frame(
            T.HEADERS,
            END_HEADERS | END_STREAM,
            2,
            hpack(request(requestFields(id), 'even stream id', id)),
          ),
        );
        break;
    }
  }
  return { bytes: Buffer.concat(out), what };
}

/** Plays one raw-frame case; resolves with how the proxy ended it. */
export async function runRawH2Case(d: Dice, caseId: string, port: number, ledger: Ledger): Promise<string> {
  const { bytes } = rawFrames(d, caseId, ledger);
  const cuts = d.cuts(bytes.length, 4);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let got = Buffer.alloc(0);
  let closed = false;
  let lastData = Date.now();
  socket.on('data', (b: Buffer) => {
    if (got.length < 4096) got = Buffer.concat([got, b]);
    lastData = Date.now();
  });
  const gone = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
  try {
    await Promise.race([new Promise((r) => socket.once('connect', r)), gone, sleep(500)]);
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      if (closed) break;
      socket.write(bytes.subarray(from, to));
      from = to;
      await sleep(d.int(0, 5));
    }
    const deadline = Date.now() + 800;
    while (!closed && Date.now() < deadline && Date.now() - lastData < 60)
      await Promise.race([gone, sleep(10)]);
  } finally {
    socket.destroy();
  }
  return goawayCode(got) ?? (closed ? 'closed' : 'open');
}

/** The error code of the first GOAWAY the proxy sent, if any. */
function goawayCode(b: Buffer): string | undefined {
  let at = 0;
  while (at + 9 <= b.length) {
    const len = b.readUIntBE(at, 3);
    if (b[at + 3] === T.GOAWAY && at + 9 + 8 <= b.length) return `goaway-${b.readUInt32BE(at + 13)}`;
    at += 9 + len;
  }
  return undefined;
}
