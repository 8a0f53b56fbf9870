import type { Random } from '../../core/random.js';
import {
  runtimeFractionHits,
  unwrap,
  type RuntimeFractionalPercentConfig,
  type Wrapped,
} from './proto-values.js';
import {
  compileStringMatcher,
  headerValue,
  type RequestHeaders,
  type StringMatcherConfig,
} from './string-matcher.js';

/**
 * Envoy's CORS decisions from a CorsPolicy (route, virtual host, or the cors filter's
 * typed_per_filter_config; the most specific one wins and the caller picks it).
 *
 * Exports:
 *   compileCorsPolicy(config: CorsPolicyConfig, path): (headers: RequestHeaders, random: Random) => CorsDecision
 *   type CorsDecision =
 *     | { kind: 'not-cors' }                       no Origin, policy disabled, or origin not allowed
 *     | { kind: 'preflight'; status: 200; headers }   answer the OPTIONS locally with these headers
 *     | { kind: 'forward' }                       a preflight for an unknown origin, sent upstream
 *     | { kind: 'actual'; responseHeaders }        add these to the upstream response
 *
 * Like Envoy, the allowed origin is echoed back (never '*'), and a matcher that accepts the
 * literal "*" allows every origin.
 */
export interface CorsPolicyConfig {
  allow_origin_string_match?: StringMatcherConfig[] | null;
  allow_methods?: string | null;
  allow_headers?: string | null;
  expose_headers?: string | null;
  max_age?: string | null;
  allow_credentials?: Wrapped<boolean>;
  filter_enabled?: RuntimeFractionalPercentConfig | null;
  shadow_enabled?: RuntimeFractionalPercentConfig | null;
  allow_private_network_access?: Wrapped<boolean>;
  forward_not_matching_preflights?: Wrapped<boolean>;
  enabled_specifier?: string;
}

export type CorsDecision =
  | { kind: 'not-cors' }
  | { kind: 'preflight'; status: 200; headers: Record<string, string> }
  | { kind: 'forward' }
  | { kind: 'actual'; responseHeaders: Record<string, string> };

export function compileCorsPolicy(
  config: CorsPolicyConfig,
  path = 'cors',
): (headers: RequestHeaders, random: Random) => CorsDecision {
  const matchers = (config.allow_origin_string_match ?? []).map((m, i) =>
    compileStringMatcher(m, `${path}.allow_origin_string_match[${i}]`),
  );
  const allowed = (origin: string) => matchers.some((m) => m('*') || m(origin));
  const credentials = unwrap(config.allow_credentials, false);
  const privateNetwork = unwrap(config.allow_private_network_access, false);
  const forwardUnmatched = unwrap(config.forward_not_matching_preflights, true);
  const NOT: CorsDecision = { kind: 'not-cors' };

  return (headers, random) => {
    // filter_enabled defaults to 100%; shadow mode only records stats, so it decides nothing here.
    if (!runtimeFractionHits(config.filter_enabled, random, true)) return NOT;
    const origin = headerValue(headers, 'origin');
    if (origin === undefined || origin === '') return NOT;
    const preflight =
      headerValue(headers, ':method') === 'OPTIONS' &&
      (headerValue(headers, 'access-control-request-method') ?? '') !== '';
    if (!allowed(origin)) {
      if (!preflight) return NOT;
      return forwardUnmatched ? { kind: 'forward' } : { kind: 'preflight', status: 200, headers: {} };
    }
    if (preflight) {
      const out: Record<string, string> = { 'access-control-allow-origin': origin };
      if (credentials) out['access-control-allow-credentials'] = 'true';
      if (config.allow_methods) out['access-control-allow-methods'] = config.allow_methods;
      if (config.allow_headers) out['access-control-allow-headers'] = config.allow_headers;
      if (config.max_age) out['access-control-max-age'] = config.max_age;
      if (privateNetwork && headerValue(headers, 'access-control-request-private-network') === 'true') {
        out['access-control-allow-private-network'] = 'true';
      }
      return { kind: 'preflight', status: 200, headers: out };
    }
    const out: Record<string, string> = { 'access-control-allow-origin': origin };
    if (credentials) out['access-control-allow-credentials'] = 'true';
    if (config.expose_headers) out['access-control-expose-headers'] = config.expose_headers;
    return { kind: 'actual', responseHeaders: out };
  };
}
