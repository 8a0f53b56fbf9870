/**
 * Fetches and caches the JWKS that RequestAuthentications name by `jwksUri` (or by issuer, with
 * OpenID discovery: `ISSUER/.well-known/openid-configuration` -> `jwks_uri`), so the translation
 * can inline them as istiod does (pilot/pkg/model/jwks_resolver.go):
 *
 * - each source is fetched when a config first names it, with the rule's timeout and a size
 *   limit, and refreshed every `refreshMs` (Istio: 20 minutes);
 * - a failed fetch keeps the last good JWKS; a source never fetched has none, and the translation
 *   then inlines a JWKS that rejects every token (fail closed), which is logged here;
 * - whenever the JWKS of a source changes (first fetch, rotation, a source dropped), `onChange`
 *   is called so the control plane pushes; the snapshot is immutable per change.
 *
 * Time comes from a Clock (refresh and timeouts), so tests drive rotation with a FakeClock.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { JwksSnapshot, type JwksRequest } from '../xds/translate/security/jwks-source.js';

/** GETs a URL: resolves with the body text; rejects on a non-2xx status, a timeout or too large a body. */
export type JwksFetch = (
  url: string,
  options: { timeoutMs: number; maxBytes: number; clock: Clock; signal: AbortSignal },
) => Promise<string>;

export interface JwksResolverOptions {
  clock: Clock;
  logger: Logger;
  /** Called after the snapshot changed. */
  onChange: () => void;
  /** Default 20 minutes, as Istio. */
  refreshMs?: number;
  /** After a failed fetch, try again this soon (default 1 minute, at most refreshMs). */
  retryMs?: number;
  /** Largest JWKS or discovery document accepted; default 1 MiB. */
  maxBytes?: number;
  fetch?: JwksFetch;
}

interface Source {
  request: JwksRequest;
  jwks?: string;
  timer?: TimerHandle;
  /** Bumped when the source is dropped or re-requested, so a late answer is ignored. */
  generation: number;
  failures: number;
}

const DEFAULT_REFRESH_MS = 20 * 60_000;
const DEFAULT_RETRY_MS = 60_000;
const DEFAULT_MAX_BYTES = 1 << 20;

export class JwksResolver {
  private readonly sources = new Map<string, Source>();
  private current = new JwksSnapshot();
  private closed = false;
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly maxBytes: number;
  private readonly fetch: JwksFetch;
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborts every fetch in flight when the resolver closes. */
  private readonly closing = new AbortController();

  constructor(private readonly options: JwksResolverOptions) {
    this.refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.retryMs = Math.min(options.retryMs ?? DEFAULT_RETRY_MS, this.refreshMs);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.fetch = options.fetch ?? httpFetch;
  }

  /** The JWKS fetched so far, by source id. */
  snapshot(): JwksSnapshot {
    return this.current;
  }

  /** The sources the config needs now: new ones are fetched, dropped ones forgotten. */
  want(requests: readonly JwksRequest[]): void {
    if (this.closed) return;
    const wanted = new Map(requests.map((r) => [r.id, r]));
    let dropped = false;
    for (const [id, s] of this.sources) {
      if (wanted.has(id)) continue;
      s.timer?.cancel();
      s.generation++;
      this.sources.delete(id);
      if (s.jwks !== undefined) dropped = true;
    }
    for (const request of wanted.values()) {
      const known = this.sources.get(request.id);
      if (known !== undefined) {
        known.request = request;
        continue;
      }
      const s: Source = { request, generation: 0, failures: 0 };
      this.sources.set(request.id, s);
      this.refresh(s);
    }
    if (dropped) this.publish();
  }

  /** Resolves when every fetch started so far has settled (tests, orderly shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.closed = true;
    this.closing.abort(new Error('the JWKS resolver is closed'));
    for (const s of this.sources.values()) {
      s.timer?.cancel();
      s.generation++;
    }
    this.sources.clear();
  }

  private refresh(s: Source): void {
    const generation = s.generation;
    const p = this.load(s.request).then(
      (jwks) => {
        if (this.closed || s.generation !== generation) return;
        s.failures = 0;
        const changed = s.jwks !== jwks;
        s.jwks = jwks;
        this.schedule(s, this.refreshMs);
        if (changed) {
          this.options.logger.info('JWKS fetched', { source: s.request.id, keys: keyCount(jwks) });
          this.publish();
        }
      },
      (err: unknown) => {
        if (this.closed || s.generation !== generation) return;
        s.failures++;
        const fields = { source: s.request.id, error: errorMessage(err), failures: s.failures };
        if (s.jwks === undefined)
          this.options.logger.warn(
            'JWKS fetch failed; tokens for this issuer are rejected until it succeeds',
            fields,
          );
        else this.options.logger.warn('JWKS refresh failed; keeping the last good keys', fields);
        this.schedule(s, this.retryMs);
      },
    );
    const tracked = p.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private schedule(s: Source, ms: number): void {
    s.timer?.cancel();
    s.timer = this.options.clock.setTimeout(() => this.refresh(s), ms);
  }

  private publish(): void {
    const docs = new Map<string, string>();
    for (const [id, s] of this.sources) if (s.jwks !== undefined) docs.set(id, s.jwks);
    this.current = new JwksSnapshot(docs);
    this.options.onChange();
  }

  private async load(request: JwksRequest): Promise<string> {
    const opts = {
      timeoutMs: request.timeoutMs,
      maxBytes: this.maxBytes,
      clock: this.options.clock,
      signal: this.closing.signal,
    };
    let uri = request.uri;
    if (uri === undefined) {
      const issuer = (request.issuer ?? '').replace(/\/+$/, '');
      const discovery = parseJson(
        await this.fetch(`${issuer}/.well-known/openid-configuration`, opts),
        'discovery document',
      );
      const found = discovery.jwks_uri;
      if (typeof found !== 'string' || found === '')
        throw new Error(`the discovery document of ${issuer} has no jwks_uri`);
      uri = found;
    }
    return checkJwks(await this.fetch(uri, opts));
  }
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A JWKS with a list of keys, each with a `kty`; returned as fetched (Envoy parses it again). */
export function checkJwks(text: string): string {
  const doc = parseJson(text, 'JWKS');
  if (!Array.isArray(doc.keys)) throw new Error('the JWKS has no "keys" list');
  for (const k of doc.keys as unknown[]) {
    if (k === null || typeof k !== 'object' || typeof (k as { kty?: unknown }).kty !== 'string')
      throw new Error('the JWKS has a key without "kty"');
  }
  return text;
}

function keyCount(jwks: string): number {
  return ((JSON.parse(jwks) as { keys: unknown[] }).keys ?? []).length;
}

/** The default fetch: Node's fetch, aborted after the timeout (on `clock`) or past maxBytes. */
export const httpFetch: JwksFetch = async (url, { timeoutMs, maxBytes, clock, signal }) => {
  const abort = new AbortController();
  const timer = clock.setTimeout(() => abort.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  const onClose = () => abort.abort(signal.reason);
  signal.addEventListener('abort', onClose, { once: true });
  try {
    const res = await fetch(url, {
      signal: abort.signal,
      redirect: 'follow',
      headers: { accept: 'application/json' },
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${url}: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new Error(`${url}: ${declared} bytes is over the ${maxBytes} byte limit`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body !== null) {
      for await (const part of res.body) {
        const chunk = part as Uint8Array;
        size += chunk.byteLength;
        if (size > maxBytes) {
          const tooLarge = new Error(`${url}: more than the ${maxBytes} byte limit`);
          abort.abort(tooLarge);
          throw tooLarge;
        }
        chunks.push(chunk);
      }
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
    throw err;
  } finally {
    timer.cancel();
    signal.removeEventListener('abort', onClose);
  }
};
