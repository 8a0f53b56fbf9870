/**
 * Raw HTTP/1.1 over a net.Socket (imported by tests only), to send what no HTTP client would:
 * invalid request lines, bad percent-escapes, oversized bodies. Each request uses a fresh
 * connection and is read until the server closes it, so send `connection: close` on good ones.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  body: string;
  json(): { error?: { code?: string; message?: string } };
}

/** Writes `bytes` on a fresh connection and reads until the server closes it (bounded). */
export async function rawRequest(
  port: number,
  bytes: string | Buffer,
  timeoutMs = 5000,
): Promise<RawResponse> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms to ${JSON.stringify(String(bytes).slice(0, 60))}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined); // a reset after the answer still leaves the answer
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.write(bytes);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  let body = text.slice(head.length + 4);
  if (/^transfer-encoding: chunked/im.test(head)) body = unchunk(body);
  return { status: Number(m[1]), body, json: () => JSON.parse(body) as ReturnType<RawResponse['json']> };
}

function unchunk(text: string): string {
  let out = '';
  for (let at = 0; at < text.length;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) break;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

/** `GET path` with `connection: close`, as raw bytes. */
export const rawGet = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n`;
