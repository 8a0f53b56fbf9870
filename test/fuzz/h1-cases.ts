/**
 * HTTP/1.1 cases: one to four pipelined requests on a fresh connection, each valid or mutated
 * (framing: CL/TE combinations, duplicates, garbage and huge lengths, broken chunks; bytes: bare
 * CR and LF, obs-fold, NUL and high bytes in every part of the head; semantics: upgrades with
 * bytes behind them, missing or doubled Host, odd versions), written in random pieces with 0-5 ms
 * between them, then ended by a half close, an idle wait or an early close.
 */
import net from 'node:net';
import type { Dice } from './dice.js';
import type { Ledger, Validity } from './invariants.js';
import { fuzzPath } from './paths.js';

const HOST = 'app:9080';

interface Field {
  line: string;
  eol: string;
}

/** What a mutation did to a request, and what that means for it and the requests after it. */
interface Mark {
  what: string;
  validity: Validity;
  /** No later request on the connection can be framed after this one (RFC 9112: close). */
  poisonsNext: boolean;
  /** Made by a framing field or body: gone when a later mutation replaces the framing. */
  framing: boolean;
}

/** One request as it will be written; mutations edit it before it is serialized. */
interface Draft {
  method: string;
  target: string;
  version: string;
  lineEol: string;
  /** The x-fuzz-id field: always its own well-formed line, so a forwarded request is attributable. */
  idField: string;
  fields: Field[];
  body: string;
  marks: Mark[];
  /** The body holds a routable request: a flipped framing byte would make it a real one. */
  noFlip?: boolean;
}

export interface H1Case {
  caseId: string;
  /** The connection's bytes in latin1, and where writes are split. */
  bytes: string;
  cuts: number[];
  delays: number[];
  end: 'half-close' | 'idle' | 'destroy';
  what: string[];
}

const WORSE: Record<Validity, number> = { valid: 0, maybe: 1, invalid: 2 };
function worst(a: Validity, b: Validity): Validity {
  return WORSE[a] >= WORSE[b] ? a : b;
}

/** A request no route allows, as bytes that should only ever be a body or garbage. */
function smuggled(id: string, path = '/admin/smuggled'): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nx-fuzz-id: ${id}\r\n\r\n`;
}

function chunked(body: string, d: Dice): string {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const n = d.int(1, Math.max(1, body.length - at));
    out += `${n.toString(16)}\r\n${body.slice(at, at + n)}\r\n`;
    at += n;
  }
  return out + '0\r\n\r\n';
}

function text(d: Dice, n: number): string {
  let s = '';
  while (s.length < n) s += d.pick(['lorem ', 'ipsum ', '{"a":1} ', 'x=1&y=2 ', '\r\n', '0\r\n', 'GET ']);
  return s.slice(0, n);
}

function baseDraft(d: Dice, id: string): Draft {
  const method = d.pick(['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH']);
  const target = fuzzPath(d);
  const draft: Draft = {
    method,
    target: target.path,
    version: 'HTTP/1.1',
    lineEol: '\r\n',
    idField: `x-fuzz-id: ${id}`,
    fields: [{ line: `Host: ${HOST}`, eol: '\r\n' }],
    body: '',
    marks: [],
  };
  // A bad byte in the target is a 400, but only whitespace and line ends break the framing.
  if (target.validity !== 'valid')
    mark(draft, `target ${JSON.stringify(target.path)}`, target.validity, /[ \t\r\n]/.test(target.path));
  if (d.chance(0.3)) draft.fields.push({ line: 'User-Agent: trellis-fuzz/1', eol: '\r\n' });
  if (d.chance(0.2)) draft.fields.push({ line: 'Connection: keep-alive', eol: '\r\n' });
  if (['POST', 'PUT', 'PATCH'].includes(method)) {
    const body = text(d, d.chance(0.1) ? 20_000 : d.int(0, 200));
    if (d.chance(0.5)) {
      draft.fields.push({ line: `Content-Length: ${body.length}`, eol: '\r\n' });
      draft.body = body;
    } else {
      draft.fields.push({ line: 'Transfer-Encoding: chunked', eol: '\r\n' });
      draft.body = chunked(body, d);
    }
  }
  return draft;
}

function mark(draft: Draft, what: string, validity: Validity, poisonsNext = validity === 'invalid'): void {
  draft.marks.push({ what, validity, poisonsNext, framing: false });
}

/** A mark of a framing mutation: it goes away with the fields and body it made. */
function markFraming(
  draft: Draft,
  what: string,
  validity: Validity,
  poisonsNext = validity === 'invalid',
): void {
  draft.marks.push({ what, validity, poisonsNext, framing: true });
}

/** Clears the framing fields (and the marks they earned) before a mutation sets its own. */
function dropFraming(draft: Draft): void {
  draft.fields = draft.fields.filter((f) => !/^(content-length|transfer-encoding):/i.test(f.line));
  draft.marks = draft.marks.filter((m) => !m.framing);
  if (draft.method === 'GET' || draft.method === 'HEAD') draft.method = 'POST';
}

function verdict(draft: Draft): { validity: Validity; poisons: boolean; what: string } {
  let validity: Validity = 'valid';
  for (const m of draft.marks) validity = worst(validity, m.validity);
  return {
    validity,
    poisons: draft.marks.some((m) => m.poisonsNext),
    what: draft.marks.map((m) => m.what).join(', ') || 'valid',
  };
}

function insertAt(s: string, d: Dice, bad: string, from = 0): string {
  const at = d.int(Math.min(from, s.length), s.length);
  return s.slice(0, at) + bad + s.slice(at);
}

/** A field to mutate; one is added when a mutation before removed them all. */
function someField(dr: Draft, d: Dice): Field {
  if (dr.fields.length === 0) dr.fields.push({ line: 'Accept: */*', eol: '\r\n' });
  return d.pick(dr.fields);
}

type Mutation = (draft: Draft, d: Dice, smuggleId: string) => void;

const MUTATIONS: Record<string, Mutation> = {
  // RFC 9112 6.1: a server may reject CL with TE or read TE alone, and must close either way.
  'cl+te': (dr, d, sid) => {
    dropFraming(dr);
    dr.body = '0\r\n\r\n' + smuggled(sid);
    const cl = { line: `Content-Length: ${dr.body.length}`, eol: '\r\n' };
    const te = { line: 'Transfer-Encoding: chunked', eol: '\r\n' };
    dr.fields.push(...(d.chance(0.5) ? [cl, te] : [te, cl]));
    markFraming(dr, 'cl+te', 'maybe', true);
  },
  'te+short-cl': (dr, _d, sid) => {
    dropFraming(dr);
    const s = smuggled(sid);
    dr.body = `${s.length.toString(16)}\r\n${s}\r\n0\r\n\r\n`;
    dr.fields.push(
      { line: 'Content-Length: 4', eol: '\r\n' },
      { line: 'Transfer-Encoding: chunked', eol: '\r\n' },
    );
    markFraming(dr, 'te+short-cl', 'maybe', true);
  },
  'dup-cl': (dr, d, sid) => {
    dropFraming(dr);
    dr.body = 'hello' + smuggled(sid);
    const same = d.chance(0.3);
    dr.fields.push(
      { line: 'Content-Length: 5', eol: '\r\n' },
      { line: `Content-Length: ${same ? 5 : dr.body.length}`, eol: '\r\n' },
    );
    markFraming(dr, same ? 'dup-cl same' : 'dup-cl differing', same ? 'maybe' : 'invalid');
  },
  'cl-list': (dr, _d, sid) => {
    dropFraming(dr);
    dr.body = 'hello' + smuggled(sid);
    dr.fields.push({ line: `Content-Length: 5, ${dr.body.length}`, eol: '\r\n' });
    markFraming(dr, 'cl list', 'invalid');
  },
  'cl-garbage': (dr, d, sid) => {
    dropFraming(dr);
    const v = d.pick([
      '-1',
      '+5',
      '0x10',
      '1e3',
      '5 5',
      '',
      '99999999999999999999999',
      '\xd9\xa3',
      '5\x00',
      ' 5a',
    ]);
    dr.body = 'hello' + smuggled(sid);
    dr.fields.push({ line: `Content-Length: ${v}`, eol: '\r\n' });
    markFraming(dr, `cl ${JSON.stringify(v)}`, 'invalid');
  },
  'cl-huge': (dr, d) => {
    dropFraming(dr);
    dr.fields.push({
      line: `Content-Length: ${d.pick(['99999999', '4294967297', '9007199254740993'])}`,
      eol: '\r\n',
    });
    dr.body = 'short body';
    // The head is fine and may be forwarded; whatever follows is body, never a request.
    markFraming(dr, 'cl huge', 'maybe', true);
  },
  'te-variant': (dr, d, sid) => {
    dropFraming(dr);
    const [v, validity] = d.pick<[string, Validity]>([
      ['Chunked', 'maybe'],
      ['chunked;q=1', 'maybe'],
      ['gzip, chunked', 'maybe'],
      ['chunked, chunked', 'invalid'],
      ['chunked, identity', 'invalid'],
      ['identity', 'invalid'],
      ['xchunked', 'invalid'],
      ['chunked\x0b', 'invalid'],
      ['\x00chunked', 'invalid'],
      ['gzip', 'invalid'],
    ]);
    dr.fields.push({ line: `Transfer-Encoding: ${v}`, eol: '\r\n' });
    if (d.chance(0.3)) dr.fields.push({ line: 'Transfer-Encoding: chunked', eol: '\r\n' });
    dr.body = chunked('abc', d) + smuggled(sid);
    markFraming(dr, `te ${JSON.stringify(v)}`, validity);
  },
  'chunk-garbage': (dr, d, sid) => {
    dropFraming(dr);
    dr.fields.push({ line: 'Transfer-Encoding: chunked', eol: '\r\n' });
    const [size, ok] = d.pick<[string, boolean]>([
      ['zz', false],
      ['-1', false],
      ['fffffffffffffffffffff', false],
      ['0x5', false],
      [' 5', false],
      ['5 ', false],
      ['5;ext=1', true],
      ['5;ext="a b"', true],
      ['5\n', false],
      ['5\r', false],
    ]);
    dr.body = `${size}\r\nhello${d.pick(['\r\n', 'X\r\n', '', '\n'])}0\r\n\r\n${smuggled(sid)}`;
    markFraming(dr, `chunk size ${JSON.stringify(size)}`, 'maybe', !ok);
  },
  trailer: (dr, _d, sid) => {
    dropFraming(dr);
    dr.fields.push({ line: 'Transfer-Encoding: chunked', eol: '\r\n' });
    dr.body = `3\r\nabc\r\n0\r\nContent-Length: 50\r\nx-t: ${sid}\r\n\r\n`;
    markFraming(dr, 'trailers', 'maybe');
  },
  'obs-fold': (dr, d) => {
    const f = someField(dr, d);
    f.line += `\r\n${d.pick([' ', '\t'])}folded: value`;
    mark(dr, 'obs-fold', 'maybe');
  },
  'bare-lf': (dr, d) => {
    if (d.chance(0.3)) dr.lineEol = '\n';
    else someField(dr, d).eol = '\n';
    mark(dr, 'bare LF', 'maybe');
  },
  'bare-cr': (dr, d) => {
    const f = someField(dr, d);
    if (d.chance(0.5)) f.eol = '\r';
    else f.line = insertAt(f.line, d, '\r', f.line.indexOf(':') + 1);
    mark(dr, 'bare CR', 'maybe');
  },
  'ctl-in-value': (dr, d) => {
    dr.fields.push({ line: `X-Fuzz-Value: a${d.pick(['\x00', '\x7f', '\x01', '\x1b'])}b`, eol: '\r\n' });
    mark(dr, 'control byte in a value', 'maybe');
  },
  'high-in-value': (dr) => {
    dr.fields.push({ line: 'X-Fuzz-Value: caf\xe9 \xff\x80', eol: '\r\n' });
    mark(dr, 'obs-text value', 'maybe');
  },
  'bad-name': (dr, d) => {
    const bad = d.pick(['\x00', '\x80', ' ', '\t', '\x7f', '(', '@', '\xff', '\r', '"']);
    const name = insertAt('X-Fuzz-Name', d, bad, 1);
    dr.fields.splice(d.int(0, dr.fields.length), 0, { line: `${name}: v`, eol: '\r\n' });
    mark(dr, `field name byte ${JSON.stringify(bad)}`, 'invalid');
  },
  'space-before-colon': (dr, d) => {
    const f = someField(dr, d);
    f.line = f.line.replace(':', d.pick([' :', '\t:']));
    mark(dr, 'whitespace before colon', 'invalid');
  },
  'bad-method': (dr, d) => {
    const [m, validity] = d.pick<[string, Validity]>([
      [insertAt(dr.method, d, d.pick(['\x00', '\x80', '\x7f', '(', '/'])), 'invalid'],
      ['get', 'maybe'],
      ['X'.repeat(300), 'maybe'],
      ['CONNECT', 'maybe'],
      ['PRI', 'maybe'],
      ['', 'invalid'],
    ]);
    dr.method = m;
    mark(dr, `method ${JSON.stringify(m.slice(0, 20))}`, validity);
  },
  version: (dr, d) => {
    if (!dr.fields.some((f) => f.line.startsWith('Host:'))) return;
    const [v, validity] = d.pick<[string, Validity]>([
      ['HTTP/1.0', 'maybe'],
      ['HTTP/1.2', 'maybe'],
      ['HTTP/2.0', 'maybe'],
      ['HTTP/0.9', 'maybe'],
      ['HTTX/1.1', 'invalid'],
      ['http/1.1', 'invalid'],
      ['HTTP/1.1 ', 'invalid'],
      ['HTTP/11', 'invalid'],
      ['', 'invalid'],
    ]);
    dr.version = v;
    mark(dr, `version ${JSON.stringify(v)}`, validity);
  },
  'no-host': (dr) => {
    dr.fields = dr.fields.filter((f) => !f.line.startsWith('Host:'));
    // Only HTTP/1.1 requires Host (RFC 9112 3.2).
    mark(dr, 'no Host', dr.version === 'HTTP/1.1' ? 'invalid' : 'maybe');
  },
  'dup-host': (dr, d) => {
    if (!dr.fields.some((f) => f.line.startsWith('Host:')))
      dr.fields.push({ line: `Host: ${HOST}`, eol: '\r\n' });
    dr.fields.push({ line: `Host: ${d.pick([HOST, 'admin:9080', 'evil.example'])}`, eol: '\r\n' });
    mark(dr, 'two Host fields', 'invalid');
  },
  upgrade: (dr, d, sid) => {
    dropFraming(dr);
    const conn = d.pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close', 'Upgrade, close']);
    const proto = d.pick(['websocket', 'WebSocket', 'websocket, foo', 'foo', 'h2c', '', 'websocket\x00']);
    if (d.chance(0.9)) dr.fields.push({ line: `Connection: ${conn}`, eol: '\r\n' });
    dr.fields.push({ line: `Upgrade: ${proto}`, eol: '\r\n' });
    if (proto === 'h2c') dr.fields.push({ line: 'HTTP2-Settings: AAMAAABkAAQAAP__', eol: '\r\n' });
    if (d.chance(0.5)) dr.fields.push({ line: 'x-fuzz-accept: 101', eol: '\r\n' });
    if (d.chance(0.15)) dr.fields.push({ line: 'Content-Length: 3', eol: '\r\n' });
    // Bytes right behind the head: a request that must never reach the backend unrouted. (A
    // routable one behind a refused upgrade may be parsed as the next request: later units are.)
    dr.body = smuggled(sid);
    mark(dr, `upgrade ${JSON.stringify(proto)} connection ${JSON.stringify(conn)}`, 'maybe');
  },
  'body-is-a-request': (dr, d, sid) => {
    // Valid framing whose body looks like a request: only a desync would make it one.
    dropFraming(dr);
    const inner = smuggled(sid, '/public/inner');
    if (d.chance(0.5)) {
      dr.fields.push({ line: `Content-Length: ${inner.length}`, eol: '\r\n' });
      dr.body = inner;
    } else {
      dr.fields.push({ line: 'Transfer-Encoding: chunked', eol: '\r\n' });
      dr.body = chunked(inner, d);
    }
    dr.noFlip = true;
    markFraming(dr, 'body is a request', 'valid');
  },
  'huge-field': (dr, d) => {
    dr.fields.push({ line: `X-Big: ${'v'.repeat(d.pick([8_000, 70_000]))}`, eol: '\r\n' });
    mark(dr, 'huge field', 'maybe');
  },
  'many-fields': (dr) => {
    for (let i = 0; i < 150; i++) dr.fields.push({ line: `X-F${i}: ${i}`, eol: '\r\n' });
    mark(dr, 'many fields', 'maybe');
  },
  expect: (dr) => {
    dr.fields.push({ line: 'Expect: 100-continue', eol: '\r\n' });
    mark(dr, 'expect 100-continue', 'maybe');
  },
};

const MUTATION_NAMES = Object.keys(MUTATIONS);

interface Serialized {
  bytes: string;
  headEnd: number;
  /** The x-fuzz-id line [from, to): byte flips stay out of it. */
  idFrom: number;
  idTo: number;
}

function serialize(dr: Draft, d: Dice): Serialized {
  const line = `${dr.method} ${dr.target} ${dr.version}${dr.lineEol}`;
  const fields = [...dr.fields];
  const idAt = d.int(0, fields.length);
  let head = line;
  let idFrom = 0;
  let idTo = 0;
  for (let i = 0; i <= fields.length; i++) {
    if (i === idAt) {
      idFrom = head.length;
      head += `${dr.idField}\r\n`;
      idTo = head.length;
    }
    const f = fields[i];
    if (f) head += f.line + f.eol;
  }
  head += '\r\n';
  return { bytes: head + dr.body, headEnd: head.length, idFrom, idTo };
}

function flipBytes(s: Serialized, d: Dice): string {
  const b = s.bytes.split('');
  for (let n = d.int(1, 3); n > 0; n--) {
    const at = d.int(0, s.headEnd - 1);
    if (at >= s.idFrom - 2 && at < s.idTo) continue;
    b[at] = String.fromCharCode(d.int(0, 255));
  }
  return b.join('');
}

/** Builds case `caseId` and registers every request it sends with the ledger. */
export function h1Case(d: Dice, caseId: string, ledger: Ledger): H1Case {
  const n = d.pick([1, 1, 1, 2, 2, 3, 4]);
  const units: { id: string; s: Serialized; validity: Validity; what: string; poisons: boolean }[] = [];
  const what: string[] = [];
  let bytes = '';
  for (let i = 0; i < n; i++) {
    const id = `${caseId}-${i}`;
    const dr = baseDraft(d, id);
    if (!d.chance(0.35)) {
      for (let m = d.pick([1, 1, 1, 2]); m > 0; m--)
        MUTATIONS[d.pick(MUTATION_NAMES)]!(dr, d, `${caseId}-s${i}`);
    }
    const s = serialize(dr, d);
    if (!dr.noFlip && d.chance(0.05)) {
      s.bytes = flipBytes(s, d);
      mark(dr, 'byte flips', 'maybe');
    }
    const v = verdict(dr);
    units.push({ id, s, validity: v.validity, what: v.what, poisons: v.poisons });
    what.push(...dr.marks.map((m) => m.what));
    bytes += s.bytes;
  }
  const end = d.pick<H1Case['end']>(['half-close', 'idle', 'idle', 'destroy']);
  // An early close: the connection ends somewhere inside the bytes.
  const cutAt = end === 'destroy' || d.chance(0.1) ? d.int(1, bytes.length) : bytes.length;
  let offset = 0;
  let poisoned = false;
  for (const u of units) {
    if (offset >= cutAt) break;
    let validity = poisoned ? 'invalid' : u.validity;
    let note = poisoned ? `after an earlier broken request (${u.what})` : u.what;
    if (offset + u.s.headEnd > cutAt) {
      validity = 'invalid';
      note = `head cut short (${note})`;
    } else if (offset + u.s.bytes.length > cutAt && validity === 'valid') validity = 'maybe';
    ledger.send(caseId, u.id, validity, note);
    poisoned ||= u.poisons;
    offset += u.s.bytes.length;
  }
  bytes = bytes.slice(0, cutAt);
  const cuts = d.cuts(bytes.length, 8);
  return { caseId, bytes, cuts, delays: cuts.map(() => d.int(0, 5)), end, what };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Plays a case against the proxy; resolves with the first response status (or how it ended). */
export async function runH1Case(port: number, c: H1Case, timeoutMs = 1500): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let got = '';
  let lastData = Date.now();
  let closed = false;
  socket.on('data', (b: Buffer) => {
    got += b.toString('latin1');
    lastData = Date.now();
  });
  const gone = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
  const deadline = Date.now() + timeoutMs;
  try {
    await Promise.race([new Promise((r) => socket.once('connect', r)), gone, sleep(timeoutMs)]);
    const bytes = Buffer.from(c.bytes, 'latin1');
    let from = 0;
    for (let i = 0; i <= c.cuts.length && !closed; i++) {
      const to = c.cuts[i] ?? bytes.length;
      socket.write(bytes.subarray(from, to));
      from = to;
      if (i < c.cuts.length) await sleep(c.delays[i] ?? 0);
    }
    if (c.end === 'destroy') {
      socket.destroy();
    } else {
      if (c.end === 'half-close') socket.end();
      lastData = Date.now();
      while (!closed && Date.now() < deadline) {
        if (c.end === 'idle' && Date.now() - lastData > 60) break;
        await Promise.race([gone, sleep(10)]);
      }
    }
  } finally {
    socket.destroy();
  }
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(got);
  if (status) return status[1]!;
  return c.end === 'destroy' ? 'client-closed' : closed ? 'closed-no-response' : 'no-response';
}
