/**
 * Envoy's response flags (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#command-operators,
 * %RESPONSE_FLAGS%): the one module that sets them. Each function names the event that earns a
 * flag, so a reader finds every flag's cause here and nowhere else; the access log and the
 * metrics read `StreamInfo.flags`.
 */
import type { LocalReplyReason } from './local-reply.js';

export type ResponseFlag =
  | 'NR'
  | 'NC'
  | 'UH'
  | 'UF'
  | 'UO'
  | 'UT'
  | 'URX'
  | 'UC'
  | 'UR'
  | 'DI'
  | 'FI'
  | 'RL'
  | 'DC'
  | 'DPE'
  | 'SI'
  | 'RLSE'
  | 'UAEX'
  | 'DF';

/** What carries the flags of one request or TCP connection. */
export interface Flagged {
  flags: Set<ResponseFlag>;
}

/** The flag of a locally generated response; none for a refused upgrade or a redirect (Envoy). */
export function localReplyFlag(reason: LocalReplyReason): ResponseFlag | undefined {
  switch (reason.kind) {
    case 'no-route':
      return 'NR';
    case 'no-cluster':
      return 'NC';
    case 'no-healthy-upstream':
      return 'UH';
    case 'connect-failure':
      return 'UF';
    case 'upstream-reset':
      return 'UR';
    case 'overflow':
      return 'UO';
    case 'timeout':
      return 'UT';
    case 'stream-idle-timeout':
      return 'SI';
    case 'bad-request':
      return 'DPE';
    case 'fault-abort':
      return 'FI';
    case 'rate-limit-service-error':
      return 'RLSE';
    case 'rate-limited':
      return 'RL';
    // The dynamic forward proxy: a host that did not resolve, or a DNS cache that overflowed.
    case 'dns-resolution-failure':
      return 'DF';
    case 'dns-cache-overflow':
      return 'UO';
    // The external authorization service denied the request, or could not be asked.
    case 'ext-authz-denied':
    case 'ext-authz-error':
      return 'UAEX';
    // Envoy sets no flag for an RBAC or JWT denial: the details say why (access log).
    case 'rbac-denied':
    case 'jwt-denied':
    case 'upgrade-refused':
    case 'path-redirect':
    case 'retry-buffer-overflow':
    case 'passthrough-loop':
      return undefined;
  }
}

/** The proxy answered the request itself. */
export function flagLocalReply(info: Flagged, reason: LocalReplyReason): void {
  const flag = localReplyFlag(reason);
  if (flag) info.flags.add(flag);
}

/** The fault filter delayed the request (Envoy's DI), whether or not it then aborts it (FI). */
export function flagDelayInjected(info: Flagged): void {
  info.flags.add('DI');
}

/** The client went away before the response was complete. */
export function flagDownstreamDisconnect(info: Flagged): void {
  info.flags.add('DC');
}

/**
 * The request was retried and its last attempt still failed (a 5xx or no response): Envoy's
 * URX, "upstream retry limit exceeded", set beside the last attempt's own flag.
 */
export function flagRetriesExhausted(info: Flagged): void {
  info.flags.add('URX');
}

/** A retry the policy wanted found the cluster's retries circuit breaker full (Envoy: UO). */
export function flagRetryOverflow(info: Flagged): void {
  info.flags.add('UO');
}

/** Why a response that had started streaming was cut short. */
export type CutCause = 'route-timeout' | 'stream-idle-timeout' | 'upstream-reset' | 'downstream-disconnect';

const CUT_FLAG: Record<CutCause, ResponseFlag> = {
  'route-timeout': 'UT',
  'stream-idle-timeout': 'SI',
  'upstream-reset': 'UR',
  'downstream-disconnect': 'DC',
};

/** A response cut short after its headers went downstream. */
export function flagResponseCut(info: Flagged, cause: CutCause): void {
  info.flags.add(CUT_FLAG[cause]);
}

/** A TCP proxy connection that could not be carried to an upstream. */
export type TcpFailure = 'no-healthy-upstream' | 'connect-failure' | 'no-cluster';

const TCP_FLAG: Record<TcpFailure, ResponseFlag> = {
  'no-healthy-upstream': 'UH',
  'connect-failure': 'UF',
  'no-cluster': 'NC',
};

export function flagTcpFailure(info: Flagged, failure: TcpFailure): void {
  info.flags.add(TCP_FLAG[failure]);
}

/**
 * Envoy prints flags in the order of its ResponseFlag bits, not the order they were set, so one
 * set of flags is always one access log text and one metrics label value.
 */
const ORDER: readonly ResponseFlag[] = [
  'UH',
  'UT',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'SI',
  'DPE',
  'NC',
  'DF',
];

export function flagsText(flags: ReadonlySet<ResponseFlag>): string {
  if (flags.size === 0) return '-';
  if (flags.size === 1) for (const f of flags) return f;
  return ORDER.filter((f) => flags.has(f)).join(',');
}
