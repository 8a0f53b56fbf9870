/**
 * The proxy's memory of requests it failed recently, for `trellis explain --request-id ID`: a
 * bounded ring (256 by default) of the last failed requests (a response flag, a 5xx, a denial),
 * each with what it actually got (status, flags, upstream host). Filled from the access log
 * writer's per-stream hook, so it costs nothing for requests that succeed. Anyone who can reach
 * the control plane's /v1/explain may read an entry back, so nothing secret is kept: the path
 * without its query string, and request headers without credentials (authorization, cookies,
 * client certificates, any header named like a credential, and any value that is a bearer or
 * basic credential or a JWT, wherever a jwt_authn provider reads its token from).
 */
import { randomUUID } from 'node:crypto';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import { flagsText } from '../connection-manager/response-flags.js';
import { flagMeanings } from './explain-flags.js';
import type { RecentFailure } from './explain-types.js';

export const RECENT_FAILURES = 256;

const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-forwarded-client-cert',
]);

/** Header names that carry credentials by convention (x-api-key, x-auth-token, x-session-id...). */
const SECRET_NAME = /auth|token|secret|passw|api-?key|session|cookie|credential|jwt|signature/i;
/** Values that are credentials whatever the header: a scheme credential or a compact JWT. */
const SECRET_VALUE = /^\s*(?:bearer|basic|digest|negotiate)\s|^\s*ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\./i;

/** Whether a request header may be kept for explaining the request again. */
export function keepHeader(name: string, value: string): boolean {
  return (
    !name.startsWith(':') && !SECRET_HEADERS.has(name) && !SECRET_NAME.test(name) && !SECRET_VALUE.test(value)
  );
}

/** A request path without its query string (which may carry tokens: from_params, api keys). */
export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

export interface RecordedFailure {
  failure: RecentFailure;
  /** The request's headers as routing saw them (credentials dropped). */
  headers: Record<string, string>;
}

/** Whether a finished request counts as failed: a flag, a 5xx, a denial by a filter, no response. */
export function isFailure(
  info: Pick<StreamInfo, 'status' | 'flags' | 'responseCodeDetails' | 'method'>,
): boolean {
  if (info.method === '') return false; // a TCP connection
  return (
    info.flags.size > 0 || info.status >= 500 || info.status === 0 || info.responseCodeDetails !== undefined
  );
}

export class RecentFailures {
  private readonly ring: (RecordedFailure | undefined)[];
  private next = 0;

  constructor(readonly capacity = RECENT_FAILURES) {
    this.ring = new Array<RecordedFailure | undefined>(capacity);
  }

  /**
   * Remembers `info` if it failed. A request without an x-request-id gets one here, so its
   * access log line and tap event carry the id to ask about.
   */
  record(info: StreamInfo): void {
    if (!isFailure(info)) return;
    if (info.requestId === '') info.requestId = randomUUID();
    const failure: RecentFailure = {
      requestId: info.requestId,
      time: new Date(info.startWallMs).toISOString(),
      method: info.method,
      authority: info.authority,
      path: pathOnly(info.path),
      status: info.status,
      flags: flagsText(info.flags),
      attempts: info.attempts,
      meanings: flagMeanings(flagsText(info.flags)),
    };
    if (info.upstreamCluster) failure.upstreamCluster = info.upstreamCluster;
    if (info.upstreamHost) failure.upstreamHost = info.upstreamHost;
    if (info.routeName) failure.route = info.routeName;
    if (info.responseCodeDetails) failure.details = info.responseCodeDetails;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(info.requestHeaders)) {
      if (v === undefined) continue;
      const value = Array.isArray(v) ? v.join(',') : v;
      if (keepHeader(k, value)) headers[k] = value;
    }
    this.ring[this.next] = { failure, headers };
    this.next = (this.next + 1) % this.capacity;
  }

  /** The most recent failed request with this id. */
  find(requestId: string): RecordedFailure | undefined {
    for (let i = 1; i <= this.capacity; i++) {
      const r = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (r?.failure.requestId === requestId) return r;
    }
    return undefined;
  }

  get size(): number {
    return this.ring.filter((r) => r !== undefined).length;
  }
}
