/**
 * The fuzzer's upstream: node's HTTP/1.1 server (llhttp, strict mode) recording every request it
 * parses, so the fuzzer can check what the proxy really forwarded. Besides requests it records
 * what no proxy should ever let through: bytes the backend's parser rejects (a message the proxy
 * re-framed badly) and bytes that reach an upgrade socket before the backend answered 101 (raw,
 * unrouted bytes behind an upgrade head).
 */
import http from 'node:http';
import type net from 'node:net';

export interface Seen {
  kind: 'request' | 'upgrade' | 'connect';
  id: string | undefined;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body arrived whole (false: the proxy cut the request short, as it should on an abort). */
  complete: boolean;
}

export interface RecordingBackend {
  port: number;
  seen: Seen[];
  /** Parse errors of the backend (llhttp codes): the proxy forwarded a malformed message. */
  parseErrors: { code: string; bytes: string }[];
  /** Bytes on an upgrade connection before the 101, or after a non-101 answer. */
  unroutedBytes: { id: string | undefined; bytes: string }[];
  close(): Promise<void>;
}

const OK = 'ok\n';

export async function startRecordingBackend(): Promise<RecordingBackend> {
  const server = http.createServer({ keepAliveTimeout: 5000 });
  const sockets = new Set<net.Socket>();
  const backend: RecordingBackend = {
    port: 0,
    seen: [],
    parseErrors: [],
    unroutedBytes: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const seen = record(backend, 'request', req);
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    req.on('end', () => {
      seen.complete = true;
      const kb = /^\/public\/big\?kb=(\d+)/.exec(req.url ?? '');
      if (kb) return void sendBig(res, Number(kb[1]));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(OK.length) });
      res.end(OK);
    });
  });

  // llhttp hands over a request with `Connection: upgrade` + `Upgrade` here, with the socket.
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const seen = record(backend, 'upgrade', req);
    seen.complete = true;
    socket.on('error', () => undefined);
    const accept = req.headers['x-fuzz-accept'] === '101';
    let switched = false;
    if (head.length > 0) backend.unroutedBytes.push({ id: seen.id, bytes: head.toString('latin1') });
    socket.on('data', (d: Buffer) => {
      if (switched) socket.write(d);
      else backend.unroutedBytes.push({ id: seen.id, bytes: d.toString('latin1') });
    });
    // Answer a little later, so bytes the proxy forwards too early have time to show up.
    setTimeout(() => {
      if (socket.destroyed) return;
      if (accept) {
        switched = true;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
      } else {
        socket.end('HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      }
    }, 10);
    socket.on('end', () => socket.end());
  });

  server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    record(backend, 'connect', req).complete = true;
    socket.on('error', () => undefined);
    socket.destroy();
  });

  server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: net.Socket) => {
    // A proxy cutting a request short (client gone) shows up as a reset or a premature end, not
    // as a parse error; those are the proxy doing its job.
    const code = err.code ?? 'unknown';
    const bytes = err.rawPacket?.toString('latin1') ?? '';
    // llhttp knows a fixed list of methods; an extension method (RFC 9110 9.1: any token) is a
    // limit of this backend, not a malformed message. Such requests go unobserved (README.md).
    // `PRI` is a valid method too, but llhttp reads it as the start of the HTTP/2 preface.
    const extensionMethod = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /.test(bytes);
    if (extensionMethod && (code === 'HPE_INVALID_METHOD' || bytes.startsWith('PRI ')))
      return void socket.destroy();
    if (code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE')
      backend.parseErrors.push({ code, bytes: bytes.slice(0, 300) });
    socket.destroy();
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  backend.port = (server.address() as net.AddressInfo).port;
  return backend;
}

function record(backend: RecordingBackend, kind: Seen['kind'], req: http.IncomingMessage): Seen {
  const raw = req.headers['x-fuzz-id'];
  const seen: Seen = {
    kind,
    id: Array.isArray(raw) ? raw.join(',') : raw,
    method: req.method ?? '',
    path: req.url ?? '',
    headers: req.headers,
    complete: false,
  };
  backend.seen.push(seen);
  return seen;
}

const KB = Buffer.alloc(1024, 0x62);

/** A response of `kb` KiB written with backpressure: big enough to be held by h2 flow control. */
function sendBig(res: http.ServerResponse, kb: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(kb * 1024) });
  let left = kb;
  const more = () => {
    while (left > 0) {
      left--;
      if (left === 0) return void res.end(KB);
      if (!res.write(KB)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}
