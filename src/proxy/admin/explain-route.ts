/**
 * The admin route `POST /explain` (`trellis explain`): a JSON body {method, url, headers} to
 * explain a request this proxy's client would send, or {requestId} to explain one it served
 * and failed recently (explain-recent.ts), with what that request actually got. Answers the
 * Explanation JSON (explain-types.ts); 400 for a malformed body, 404 for an unknown request id.
 */
import type http from 'node:http';
import { errorMessage, isTrellisError } from '../../core/errors.js';
import { explainRequest, explainRequestFrom, type ExplainContext } from './explain.js';
import type { RecentFailures } from './explain-recent.js';

const MAX_BODY = 64 * 1024;

/** What the admin server needs to explain: the live context and the ring of recent failures. */
export interface ExplainHandle {
  context(): ExplainContext;
  recent: RecentFailures;
}

export interface ExplainReply {
  status: number;
  body: unknown;
}

/** The answer to one /explain body (already parsed JSON). */
export async function explainBody(handle: ExplainHandle, body: unknown): Promise<ExplainReply> {
  const fail = (status: number, message: string): ExplainReply => ({ status, body: { error: { message } } });
  try {
    if (body !== null && typeof body === 'object' && 'requestId' in body) {
      const id = body.requestId;
      if (typeof id !== 'string' || id === '')
        return fail(400, 'requestId: expected the x-request-id of a request');
      const found = handle.recent.find(id);
      if (!found)
        return fail(
          404,
          `no failed request with id ${JSON.stringify(id)} among the last ${handle.recent.capacity} failures this proxy remembers (only failed requests are kept); explain the request by its URL instead`,
        );
      const f = found.failure;
      const out = await explainRequest(handle.context(), {
        method: f.method,
        url: `http://${f.authority}${f.path}`,
        headers: found.headers,
      });
      out.actual = f;
      return { status: 200, body: out };
    }
    return { status: 200, body: await explainRequest(handle.context(), explainRequestFrom(body)) };
  } catch (err) {
    if (isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT')) return fail(400, err.message);
    throw err;
  }
}

/** Reads the request body (at most 64 KiB) and answers it. */
export function serveExplain(
  handle: ExplainHandle,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  onError: (err: unknown) => void,
): void {
  const send = (r: ExplainReply) => {
    const text = JSON.stringify(r.body, null, 2) + '\n';
    res.writeHead(r.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  if (req.method !== 'POST') {
    send({
      status: 405,
      body: { error: { message: 'use POST /explain with a JSON body {method, url, headers}' } },
    });
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) tooLarge = true;
    else chunks.push(c);
  });
  req.on('end', () => {
    if (tooLarge)
      return send({ status: 413, body: { error: { message: `the body is over ${MAX_BODY} bytes` } } });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch (err) {
      return send({
        status: 400,
        body: { error: { message: `the body is not JSON: ${errorMessage(err)}` } },
      });
    }
    explainBody(handle, body).then(send, onError);
  });
}
