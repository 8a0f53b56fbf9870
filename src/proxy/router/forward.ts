/**
 * The router's upstream path, composed here and only here from one-concern layers (linkerd2's
 * stacks are the model), in the order a request meets them:
 *
 *   hash policy        hash-policy.ts       the hash for RING_HASH/MAGLEV, a generated cookie
 *   route timeout      request-stop.ts      the route timeout, client disconnect, stream idle
 *   admission + host   ClusterRuntime.claim the `requests` breaker slot (UO) and the host pick
 *                                           (UH), skipping tried hosts under previous_hosts
 *   per-try timeout    per-try.ts           one attempt, bounded by per_try_timeout
 *   outlier recording  attempt-result.ts    what the outlier detector and the counters learn
 *   retry              retry.ts             the route's RetryPolicy decides; retries breaker,
 *                                           body replay and back-off here
 *   response           response-pump.ts     head and body downstream, with backpressure
 *
 * Failures come back as LocalReplyReason values (local-reply.ts makes the response); flags
 * are set through response-flags.ts.
 */
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type { Endpoint, ForwardAction } from '../model/config.js';
import type { ClusterRuntime, UpstreamClaim, UpstreamHost } from '../upstream/cluster-manager.js';
import type { UpstreamPools } from '../upstream/pools.js';
import type { OutgoingHeaders, UpstreamAttempt } from '../upstream/attempt.js';
import { sendUpstream } from '../upstream/upstream-request.js';
import { upstreamTlsFor } from '../upstream/transport-socket-match.js';
import type { Downstream } from '../connection-manager/downstream.js';
import type { LocalReplyReason } from '../connection-manager/local-reply.js';
import type { ReplayableBody } from '../connection-manager/request-body.js';
import { flagRetriesExhausted, flagRetryOverflow } from '../connection-manager/response-flags.js';
import type { StreamIdleTimer } from '../connection-manager/stream-idle-timeout.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import { failureReply, outlierOutcome, retryOutcome, type AttemptResult } from './attempt-result.js';
import { hashRequest } from './hash-policy.js';
import { runAttempt } from './per-try.js';
import { RequestStop } from './request-stop.js';
import { streamResponse } from './response-pump.js';
import { RetryState } from './retry.js';

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

/** Returns undefined when a response (upstream or none, if the client left) was handled. */
export async function forward(
  req: ForwardRequest,
  ds: Downstream,
  info: StreamInfo,
  deps: ForwardDeps,
): Promise<LocalReplyReason | undefined> {
  const { cluster, idle, body } = req;
  const policy = req.action.retry;
  const hashed = hashRequest(req.action.hash, req.requestHeaders, req.path, req.sourceIp);
  const finishHeaders =
    hashed.setCookie === undefined ? req.finishHeaders : withCookie(req, hashed.setCookie);
  // Hosts already tried, kept only when the retry policy wants them skipped.
  const tried = policy?.excludePreviousHosts ? new Set<UpstreamHost>() : undefined;
  const perTry = {
    timeoutMs: policy?.perTryTimeoutMs,
    whenRequestComplete: (fn: () => void) => body.whenComplete(fn),
  };
  const idleReply = (): LocalReplyReason => ({ kind: 'stream-idle-timeout', requestComplete: body.complete });
  let stop: RequestStop | undefined;
  let retry: RetryState | undefined;
  try {
    stop = new RequestStop(deps.clock, req.action.timeoutMs, { downstream: ds, idle, body });
    retry = new RetryState(policy, {
      requestHeaders: req.requestHeaders,
      replayable: () => body.replayable,
      breaker: cluster.retryBreaker,
      clock: deps.clock,
      random: deps.random,
    });
    for (let attempt = 0; ; attempt++) {
      const before = stop.cause();
      if (before === 'downstream-disconnect') return undefined;
      if (before === 'stream-idle-timeout') return idleReply();
      if (before === 'route-timeout') {
        // The route timeout passed during the back-off: no attempt, nothing for outlier detection.
        cluster.counters.upstream_rq_timeout++;
        return { kind: 'timeout' };
      }
      // The body overflowed the retry buffer during the back-off: what is left cannot be resent
      // (Envoy: 507, "exceeded request buffer limit while retrying upstream").
      if (attempt > 0 && !body.replayable) return { kind: 'retry-buffer-overflow' };
      const claim = cluster.claim(req.originalDestination, hashed.hash, tried);
      if (claim === 'overflow') return { kind: 'overflow', cluster: cluster.config.name };
      if (claim === 'no-host') return { kind: 'no-healthy-upstream', cluster: cluster.config.name };
      if (claim.host) tried?.add(claim.host);
      info.upstreamHost = claim.endpoint.key;
      info.destinationIdentity = claim.endpoint.identity;
      info.attempts = attempt + 1;
      const upstream = send(req, claim, deps);
      const result = await runAttempt(upstream, perTry, deps.clock, stop);
      holdClaim(result, claim);
      retry.answered();
      // An attempt settles with its own result unless the request stopped first: then, and only
      // then, is it `stopped` (the stop handler runs from a timer or a socket event, never
      // between the settled attempt and this line).
      if (result.kind === 'stopped') {
        const cause = stop.cause();
        if (cause === 'downstream-disconnect') return undefined;
        if (cause === 'stream-idle-timeout') return idleReply();
        cluster.record(claim.host, outlierOutcome(result));
        cluster.counters.upstream_rq_timeout++;
        return { kind: 'timeout' };
      }
      cluster.record(claim.host, outlierOutcome(result));
      if (result.kind === 'error' && result.error.transportFailureReason !== undefined)
        info.upstreamTransportFailureReason = result.error.transportFailureReason;
      if (result.kind === 'per-try-timeout') cluster.counters.upstream_rq_per_try_timeout++;
      const decision = retry.decide(retryOutcome(result));
      if (decision === 'retry') {
        abandon(upstream, result);
        await retry.backOff(stop);
        continue;
      }
      if (decision === 'limit-exceeded') flagRetriesExhausted(info);
      else if (decision === 'overflow') flagRetryOverflow(info);
      if (result.kind !== 'response') return failureReply(result, cluster.config.name);
      await streamResponse(result.response, result.serviceTimeMs, finishHeaders, ds, info, idle, () => {
        const c = stop?.cause();
        return c === 'route-timeout' || c === 'stream-idle-timeout' ? c : 'upstream-reset';
      });
      return undefined;
    }
  } finally {
    retry?.answered();
    stop?.dispose();
  }
}

/** Response headers get the hash policy's generated cookie beside any the upstream set (Envoy appends). */
function withCookie(req: ForwardRequest, cookie: string): (h: OutgoingHeaders) => void {
  return (h) => {
    req.finishHeaders(h);
    const existing = h['set-cookie'];
    h['set-cookie'] =
      existing === undefined ? cookie : [...(Array.isArray(existing) ? existing : [existing]), cookie];
  };
}

/** An attempt given up for a retry: its response is dropped and it stops reading the body. */
function abandon(upstream: UpstreamAttempt, result: AttemptResult): void {
  if (result.kind !== 'response') return;
  upstream.detachBody();
  result.response.abort();
}

function send(req: ForwardRequest, claim: UpstreamClaim, deps: ForwardDeps) {
  // An aggregate cluster connects with the settings of the member that owns the host.
  const config = req.cluster.configFor(claim.endpoint);
  return sendUpstream(
    {
      endpoint: claim.endpoint,
      http2: config.http2,
      method: req.method,
      path: req.path,
      authority: req.authority,
      headers: req.headers,
      body: req.body,
      connectTimeoutMs: config.connectTimeoutMs,
      maxConnections: config.circuitBreakers.DEFAULT.connections,
      tls: upstreamTlsFor(config, claim.endpoint),
    },
    deps.pools,
  );
}

/** The claim on the cluster lasts until the response body is done, or ends with the attempt. */
function holdClaim(result: AttemptResult, claim: UpstreamClaim): void {
  if (result.kind === 'response') result.response.onDone(claim.release);
  else claim.release();
}
