/**
 * Sends a routed request upstream: endpoint pick, circuit breaker, per-try and route timeouts,
 * retries with backoff (body replayed from ReplayableBody), then streams the response back with
 * trailers. Failures are returned as LocalReplyReason values; local-reply.ts turns them into
 * responses.
 */
import { backoffDelay } from '../../core/backoff.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type { Endpoint, ForwardAction, RetryPolicy } from '../model/config.js';
import type { UpstreamOutcome } from '../policy/outlier-detector.js';
import type { ClusterRuntime, UpstreamClaim, UpstreamHost } from '../upstream/cluster-manager.js';
import type { UpstreamPools } from '../upstream/pools.js';
import {
  DISCARD_BODY,
  UpstreamError,
  type OutgoingHeaders,
  type ResponseBodyReader,
  type UpstreamResponse,
} from '../upstream/attempt.js';
import { sendUpstream } from '../upstream/upstream-request.js';
import type { Downstream } from '../connection-manager/downstream.js';
import { first, forwardableResponseHeaders } from '../connection-manager/headers.js';
import type { LocalReplyReason } from '../connection-manager/local-reply.js';
import type { ReplayableBody } from '../connection-manager/request-body.js';
import type { StreamIdleTimer } from '../connection-manager/stream-idle-timeout.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';

export interface ForwardRequest {
  cluster: ClusterRuntime;
  /** For ORIGINAL_DST clusters (inbound): the endpoint is the request's own destination. */
  originalDestination?: Endpoint;
  action: Pick<ForwardAction, 'timeoutMs' | 'retry' | 'hash'>;
  /** Downstream request headers (with :path/:authority), for hash policies. */
  requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  sourceIp: string;
  method: string;
  path: string;
  authority: string;
  headers: OutgoingHeaders;
  body: ReplayableBody;
  /** The stream idle timeout: activity resets it; on expiry the request ends with SI. */
  idle?: StreamIdleTimer;
  /** Mutates response headers before they are sent (route/vhost/global response mutations). */
  finishHeaders: (headers: OutgoingHeaders) => void;
}

export interface ForwardDeps {
  pools: UpstreamPools;
  clock: Clock;
  random: Random;
}

type AttemptResult =
  | { kind: 'response'; response: UpstreamResponse; host: UpstreamHost | undefined; serviceTimeMs: number }
  | { kind: 'error'; error: UpstreamError }
  | { kind: 'per-try-timeout' }
  | { kind: 'timeout' };

/** Returns undefined when a response (upstream or none, if the client left) was handled. */
export async function forward(
  req: ForwardRequest,
  ds: Downstream,
  info: StreamInfo,
  deps: ForwardDeps,
): Promise<LocalReplyReason | undefined> {
  const { cluster } = req;
  const retry = req.action.retry;
  const maxAttempts = 1 + (retry?.numRetries ?? 0);
  const deadline = req.action.timeoutMs > 0 ? deps.clock.now() + req.action.timeoutMs : Infinity;
  let routeTimer: TimerHandle | undefined;
  let timedOut = false;
  let onRouteTimeout: (() => void) | undefined;
  if (deadline !== Infinity) {
    routeTimer = deps.clock.setTimeout(() => {
      timedOut = true;
      onRouteTimeout?.();
    }, req.action.timeoutMs);
  }
  // A client that goes away cancels the upstream attempt, as Envoy resets the upstream stream;
  // so does the stream idle timeout.
  ds.onAbort(() => onRouteTimeout?.());
  const idle = req.idle;
  idle?.whenExpired(() => onRouteTimeout?.());
  // Hosts already tried, kept only when the retry policy wants them skipped.
  const tried = retry?.excludePreviousHosts ? new Set<UpstreamHost>() : undefined;
  const hashed = req.action.hash?.({
    headers: req.requestHeaders,
    query: new URLSearchParams(req.path.includes('?') ? req.path.slice(req.path.indexOf('?') + 1) : ''),
    sourceIp: req.sourceIp,
  });
  if (hashed?.setCookie) {
    const c = hashed.setCookie;
    const parts = [`${c.name}=${c.value}`];
    if (c.ttlMs > 0) parts.push(`Max-Age=${Math.floor(c.ttlMs / 1000)}`);
    if (c.path) parts.push(`Path=${c.path}`);
    for (const a of c.attributes) parts.push(a.value ? `${a.name}=${a.value}` : a.name);
    const finish = req.finishHeaders;
    req = {
      ...req,
      finishHeaders: (h) => {
        finish(h);
        h['set-cookie'] = parts.join('; ');
      },
    };
  }
  // A retry holds the cluster's retry circuit breaker until its attempt has an answer.
  let releaseRetry: (() => void) | undefined;
  const takeRetry = (): boolean => {
    releaseRetry = cluster.breakers.forPriority().tryAcquire('retries');
    if (releaseRetry) cluster.counters.upstream_rq_retry++;
    return releaseRetry !== undefined;
  };
  try {
    for (let attempt = 0; ; attempt++) {
      if (ds.aborted) return undefined;
      if (idle?.expired) return { kind: 'stream-idle-timeout', requestComplete: req.body.complete };
      const claim = cluster.claim(req.originalDestination, hashed?.hash, tried);
      if (claim === 'overflow') {
        releaseRetry?.();
        return { kind: 'overflow', cluster: cluster.config.name };
      }
      if (claim === 'no-host') return { kind: 'no-healthy-upstream', cluster: cluster.config.name };
      const { endpoint, host } = claim;
      if (host) tried?.add(host);
      info.upstreamHost = endpoint.key;
      info.destinationIdentity = endpoint.identity;
      info.attempts = attempt + 1;
      const result = await runAttempt(req, claim, deps, (fn) => {
        onRouteTimeout = fn;
        if (timedOut || idle?.expired) fn();
      });
      releaseRetry?.();
      releaseRetry = undefined;
      if (ds.aborted) {
        if (result.kind === 'response') result.response.abort();
        return undefined;
      }
      if (idle?.expired) {
        if (result.kind === 'response') result.response.abort();
        return { kind: 'stream-idle-timeout', requestComplete: req.body.complete };
      }
      cluster.record(host, outcomeOf(result));
      const canRetry = attempt + 1 < maxAttempts && req.body.replayable && retry !== undefined && !timedOut;
      if (result.kind === 'per-try-timeout') cluster.counters.upstream_rq_per_try_timeout++;
      if (result.kind === 'timeout' || timedOut) {
        cluster.counters.upstream_rq_timeout++;
        if (result.kind === 'response') result.response.abort();
        return { kind: 'timeout' };
      }
      let failure: LocalReplyReason;
      if (result.kind === 'response') {
        if (canRetry && retriableResponse(retry, result.response) && takeRetry()) {
          result.response.abort();
          await backOff(deps, retry, attempt);
          continue;
        }
        if (attempt > 0 && result.response.status >= 500) info.flags.add('URX');
        await streamResponse(result.response, result.serviceTimeMs, req, ds, info, () =>
          timedOut ? 'UT' : idle?.expired ? 'SI' : 'UR',
        );
        return undefined;
      }
      if (result.kind === 'per-try-timeout') {
        failure = { kind: 'timeout' };
        if (canRetry && (retry.retryOn.has('5xx') || retry.retryOn.has('gateway-error')) && takeRetry()) {
          await backOff(deps, retry, attempt);
          continue;
        }
      } else {
        const e = result.error;
        failure =
          e.kind === 'connect'
            ? { kind: 'connect-failure', cluster: cluster.config.name, detail: e.message }
            : { kind: 'upstream-reset', cluster: cluster.config.name, detail: e.message };
        if (canRetry && retriableError(retry, e) && takeRetry()) {
          await backOff(deps, retry, attempt);
          continue;
        }
      }
      if (attempt > 0) info.flags.add('URX');
      return failure;
    }
  } finally {
    releaseRetry?.();
    routeTimer?.cancel();
  }
}

function retriableResponse(retry: RetryPolicy, res: UpstreamResponse): boolean {
  const s = res.status;
  const on = retry.retryOn;
  if (on.has('5xx') && s >= 500) return true;
  if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
  if (on.has('retriable-4xx') && s === 409) return true;
  if (on.has('retriable-status-codes') && retry.retriableStatusCodes.has(s)) return true;
  const grpc = first(res.headers['grpc-status']);
  if (grpc !== undefined) {
    if (on.has('cancelled') && grpc === '1') return true;
    if (on.has('deadline-exceeded') && grpc === '4') return true;
    if (on.has('resource-exhausted') && grpc === '8') return true;
    if (on.has('unavailable') && grpc === '14') return true;
  }
  return false;
}

function retriableError(retry: RetryPolicy, e: UpstreamError): boolean {
  const on = retry.retryOn;
  if (e.kind === 'connect')
    return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
  return on.has('reset') || on.has('5xx') || on.has('refused-stream');
}

/** Waits the retry policy's exponential backoff with jitter before retry `attempt`. */
async function backOff(deps: ForwardDeps, retry: RetryPolicy, attempt: number): Promise<void> {
  const ms = backoffDelay({ baseMs: retry.baseIntervalMs, maxMs: retry.maxIntervalMs }, attempt, deps.random);
  await new Promise<void>((resolve) => deps.clock.setTimeout(resolve, ms));
}

function outcomeOf(result: AttemptResult): UpstreamOutcome {
  switch (result.kind) {
    case 'response':
      return { kind: 'response', status: result.response.status };
    case 'error':
      return { kind: result.error.kind === 'connect' ? 'connect-failure' : 'reset' };
    default:
      return { kind: 'timeout' };
  }
}

async function runAttempt(
  req: ForwardRequest,
  claim: UpstreamClaim,
  deps: ForwardDeps,
  setRouteTimeout: (fn: () => void) => void,
): Promise<AttemptResult> {
  const { cluster } = req;
  const { endpoint, host, release } = claim;
  const started = deps.clock.now();
  const attempt = sendUpstream(
    {
      endpoint,
      http2: cluster.config.http2,
      method: req.method,
      path: req.path,
      authority: req.authority,
      headers: req.headers,
      body: req.body,
      connectTimeoutMs: cluster.config.connectTimeoutMs,
      maxConnections: cluster.config.circuitBreakers.DEFAULT.connections,
    },
    deps.pools,
  );
  const result = await new Promise<AttemptResult>((resolve) => {
    let perTry: TimerHandle | undefined;
    const perTryMs = req.action.retry?.perTryTimeoutMs;
    if (perTryMs !== undefined) {
      perTry = deps.clock.setTimeout(() => {
        attempt.cancel();
        resolve({ kind: 'per-try-timeout' });
      }, perTryMs);
    }
    setRouteTimeout(() => {
      perTry?.cancel();
      attempt.cancel();
      resolve({ kind: 'timeout' });
    });
    attempt.response.then(
      (response) => {
        perTry?.cancel();
        resolve({ kind: 'response', response, host, serviceTimeMs: Math.round(deps.clock.now() - started) });
      },
      (error: unknown) => {
        perTry?.cancel();
        resolve({
          kind: 'error',
          error: error instanceof UpstreamError ? error : new UpstreamError('reset', String(error)),
        });
      },
    );
  });
  if (result.kind !== 'response') {
    attempt.detachBody();
    release();
  } else {
    // The request stays active until its response body is done.
    result.response.onDone(release);
  }
  return result;
}

async function streamResponse(
  res: UpstreamResponse,
  serviceTimeMs: number,
  req: ForwardRequest,
  ds: Downstream,
  info: StreamInfo,
  /** Why the response was cut short, if the client is still there. */
  cutReason: () => 'UT' | 'SI' | 'UR',
): Promise<void> {
  const headers: OutgoingHeaders = forwardableResponseHeaders(res.headers);
  headers['x-envoy-upstream-service-time'] = String(serviceTimeMs);
  req.finishHeaders(headers);
  info.status = res.status;
  info.upstreamServiceTimeMs = serviceTimeMs;
  const grpcInHeaders = first(res.headers['grpc-status']);
  if (ds.aborted) {
    res.abort();
    return;
  }
  if (res.endStream) {
    res.read(DISCARD_BODY);
    if (grpcInHeaders !== undefined) info.grpcStatus = grpcInHeaders;
    ds.respondHeadersOnly(res.status, headers);
    return;
  }
  ds.respond(res.status, headers);
  req.idle?.touch();
  await new Promise<void>((resolve) => {
    const pump = new ResponsePump(res, ds, info, grpcInHeaders, cutReason, req.idle, resolve);
    const cut = () => {
      res.abort();
      pump.error();
    };
    ds.onAbort(cut);
    req.idle?.whenExpired(cut);
    res.read(pump);
  });
}

/** Copies an upstream response body to the downstream, with backpressure both ways. */
class ResponsePump implements ResponseBodyReader {
  private finished = false;
  private waitingDrain = false;

  constructor(
    private readonly res: UpstreamResponse,
    private readonly ds: Downstream,
    private readonly info: StreamInfo,
    private readonly grpcInHeaders: string | undefined,
    private readonly cutReason: () => 'UT' | 'SI' | 'UR',
    private readonly idle: StreamIdleTimer | undefined,
    private readonly resolve: () => void,
  ) {}

  data(chunk: Buffer): void {
    this.info.bytesSent += chunk.length;
    this.idle?.touch();
    // Chunks already read keep coming after pause(): one drain wait is enough.
    if (!this.ds.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.res.pause();
      this.ds.onceDrain(this.drained);
    }
  }

  private readonly drained = (): void => {
    this.waitingDrain = false;
    this.res.resume();
  };

  end(trailers: OutgoingHeaders | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const grpc = (trailers && first(trailers['grpc-status'])) ?? this.grpcInHeaders;
    if (grpc !== undefined) this.info.grpcStatus = grpc;
    this.ds.end(trailers);
    this.resolve();
  }

  error(): void {
    if (this.finished) return;
    this.finished = true;
    const { ds } = this;
    if (!ds.aborted) ds.reset();
    // The route timeout also covers the response body (Envoy): cut short, flagged UT; the
    // stream idle timeout, SI.
    this.info.flags.add(ds.aborted ? 'DC' : this.cutReason());
    this.resolve();
  }
}
