/**
 * Envoy's response flags in words, for `trellis explain` and the recent-failure ring: what each
 * flag a Trellis proxy sets (connection-manager/response-flags.ts) means.
 */
const MEANINGS: Readonly<Record<string, string>> = {
  NR: 'no route: no route (or no listener) matched the request',
  NC: 'no cluster: the route names a cluster this proxy does not know',
  UH: 'no healthy upstream: the cluster had no endpoint to send the request to',
  UF: 'upstream connection failure: connecting to the chosen endpoint failed',
  UO: 'upstream overflow: a circuit breaker of the cluster was full',
  UT: 'upstream request timeout: the route timeout expired before the response',
  URX: 'upstream retry limit exceeded: every attempt failed and the retries ran out',
  UC: 'upstream connection termination: the upstream closed the connection',
  UR: 'upstream remote reset: the upstream reset the stream',
  DI: 'delay injected by fault injection',
  FI: 'aborted by fault injection',
  RL: 'rate limited: the local or global rate limit had no quota left',
  DC: 'downstream connection termination: the client went away',
  DPE: 'downstream protocol error: the request was malformed',
  SI: 'stream idle timeout: no bytes moved for the idle timeout',
  RLSE: 'rate limit service error: the rate limit service could not be asked',
  UAEX: 'unauthorized by external authorization: ext_authz denied the request or failed',
  DF: 'DNS resolution failure: the dynamic forward proxy could not resolve the host',
};

export function flagMeaning(flag: string): string {
  return MEANINGS[flag] ?? `response flag ${flag}`;
}

/** One line per flag of an access log `%RESPONSE_FLAGS%` text (`UF,URX`); none for `-`. */
export function flagMeanings(flags: string): string[] {
  if (flags === '' || flags === '-') return [];
  return flags.split(',').map((f) => `${f}: ${flagMeaning(f)}`);
}
