/**
 * Requests node's HTTP parser rejects before any handler sees them (invalid request line or
 * method, bad headers, an oversized header block, a head that never ends) get a coded error
 * instead of node's bare `400 Bad Request`, then the connection closes: the parser's state is
 * unknown after such an error. Every node:http server of the project (control plane API, proxy
 * admin, rate limit service) answers them this way, as JSON or as `CODE: message` text.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/** The status and code for a request node's HTTP parser rejected. */
export function clientErrorStatus(err: NodeJS.ErrnoException): {
  status: number;
  code: ErrorCode;
  reason: string;
} {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return { status: 431, code: 'TRELLIS_TOO_LARGE', reason: 'Request Header Fields Too Large' };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, code: 'TRELLIS_BAD_REQUEST', reason: 'Request Timeout' };
  return { status: 400, code: 'TRELLIS_BAD_REQUEST', reason: 'Bad Request' };
}

export function answerMalformedRequests(server: http.Server, format: 'json' | 'text', logger?: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, code, reason } = clientErrorStatus(err);
    logger?.debug('malformed HTTP request', { error: err.message, code: err.code });
    const message = `malformed HTTP request: ${err.message}`;
    const body =
      format === 'json' ? JSON.stringify({ error: { code, message } }) + '\n' : `${code}: ${message}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${format === 'json' ? 'application/json' : 'text/plain'}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
}
