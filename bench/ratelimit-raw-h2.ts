/**
 * A bare HTTP/2 client connection for the rate limit load generator: it writes pre-encoded
 * frames straight to a TCP socket, so a call costs a few µs of CPU instead of node:http2's
 * ~50-60 µs, and a Node process can load the service without dominating a core. Benchmark
 * tooling only, not a general client:
 * - request headers are HPACK literals "without indexing" (no dynamic table), identical for
 *   every call except the stream id; the body is a ready gRPC frame;
 * - responses are not HPACK-decoded: a call succeeded when DATA arrived before its
 *   END_STREAM (the service answers every error trailers-only, with no DATA); the benchmark
 *   also checks the service's own decision counter;
 * - flow control: the receive windows are opened to 2^31-1 at the start; the send window is
 *   tracked from the server's WINDOW_UPDATEs; SETTINGS and PING are acknowledged.
 */
import net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 };
const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 };
const MAX_WINDOW = 0x7fffffff;

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUIntBE(length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId, 5);
  return b;
}

/** HPACK string literal, no Huffman; lengths here stay below 127. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  if (bytes.length > 126) throw new Error('header too long for this client');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function requestHeaderBlock(authority: string, path: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table)
    Buffer.from([0x04]), // :path, literal without indexing, name from the static table
    hpackString(path),
    Buffer.from([0x01]), // :authority
    hpackString(authority),
    Buffer.from([0x0f, 0x10]), // content-type (static index 31)
    hpackString('application/grpc'),
    Buffer.from([0x00]), // te: new name
    hpackString('te'),
    hpackString('trailers'),
  ]);
}

export class RawH2Connection {
  private readonly socket: net.Socket;
  private readonly headerBlock: Buffer;
  private nextStreamId = 1;
  private sendWindow = 65_535;
  private inbox: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, { gotData: boolean; done: (ok: boolean) => void }>();
  private readonly waiting: { body: Buffer; done: (ok: boolean) => void }[] = [];
  private corked = false;
  private closed = false;

  private constructor(socket: net.Socket, authority: string, path: string) {
    this.socket = socket;
    this.headerBlock = requestHeaderBlock(authority, path);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.failAll());
    socket.on('error', () => this.failAll());
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH = 0
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const windowUpdate = Buffer.alloc(4);
    windowUpdate.writeUInt32BE(MAX_WINDOW - 65_535, 0);
    socket.write(
      Buffer.concat([
        PREFACE,
        frameHeader(settings.length, FRAME.SETTINGS, 0, 0),
        settings,
        frameHeader(4, FRAME.WINDOW_UPDATE, 0, 0),
        windowUpdate,
      ]),
    );
  }

  static async connect(host: string, port: number, path: string): Promise<RawH2Connection> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawH2Connection(socket, `${host}:${port}`, path);
  }

  /** Sends one unary call with a ready gRPC-framed body; `done(ok)` when its stream ends. */
  call(body: Buffer, done: (ok: boolean) => void): void {
    if (this.closed) {
      done(false);
      return;
    }
    if (this.sendWindow < body.length) {
      this.waiting.push({ body, done });
      return;
    }
    this.send(body, done);
  }

  close(): void {
    this.closed = true;
    this.socket.end(Buffer.concat([frameHeader(8, FRAME.GOAWAY, 0, 0), Buffer.alloc(8)]));
  }

  private send(body: Buffer, done: (ok: boolean) => void): void {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.sendWindow -= body.length;
    this.pending.set(id, { gotData: false, done });
    // Frames written in one turn leave as one TCP write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frameHeader(this.headerBlock.length, FRAME.HEADERS, FLAG.END_HEADERS, id));
    this.socket.write(this.headerBlock);
    this.socket.write(frameHeader(body.length, FRAME.DATA, FLAG.END_STREAM, id));
    this.socket.write(body);
  }

  private onData(chunk: Buffer): void {
    let buf = this.inbox.length ? Buffer.concat([this.inbox, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 9) {
      const length = buf.readUIntBE(at, 3);
      if (buf.length - at < 9 + length) break;
      const type = buf[at + 3]!;
      const flags = buf[at + 4]!;
      const streamId = buf.readUInt32BE(at + 5) & MAX_WINDOW;
      this.onFrame(type, flags, streamId, buf.subarray(at + 9, at + 9 + length));
      at += 9 + length;
    }
    buf = buf.subarray(at);
    this.inbox = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FRAME.DATA:
      case FRAME.HEADERS: {
        const call = this.pending.get(streamId);
        if (!call) return;
        if (type === FRAME.DATA && payload.length > 0) call.gotData = true;
        if (flags & FLAG.END_STREAM) {
          this.pending.delete(streamId);
          call.done(call.gotData);
        }
        return;
      }
      case FRAME.RST_STREAM: {
        const call = this.pending.get(streamId);
        this.pending.delete(streamId);
        call?.done(false);
        return;
      }
      case FRAME.SETTINGS:
        if (!(flags & FLAG.ACK)) this.socket.write(frameHeader(0, FRAME.SETTINGS, FLAG.ACK, 0));
        return;
      case FRAME.PING:
        if (!(flags & FLAG.ACK))
          this.socket.write(Buffer.concat([frameHeader(8, FRAME.PING, FLAG.ACK, 0), payload]));
        return;
      case FRAME.WINDOW_UPDATE:
        if (streamId === 0) {
          this.sendWindow += payload.readUInt32BE(0) & MAX_WINDOW;
          while (this.waiting.length && this.sendWindow >= this.waiting[0]!.body.length) {
            const w = this.waiting.shift()!;
            this.send(w.body, w.done);
          }
        }
        return;
      case FRAME.GOAWAY:
        this.closed = true;
        return;
      default:
    }
  }

  private failAll(): void {
    this.closed = true;
    for (const [, call] of this.pending) call.done(false);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w.done(false);
  }
}
