/**
 * HTTP filters the data path implements, and their per-route overrides
 * (typed_per_filter_config on virtual hosts, routes and weighted clusters). The config of each
 * is compiled (and so validated) by its policy module; an unknown filter type is rejected.
 */
import { systemClock } from '../../core/clock.js';
import { isTrellisError, type Problems } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type { FilterOverride, HttpFilterConfig } from './config.js';
import { compileCorsPolicy, type CorsPolicyConfig } from '../policy/cors.js';
import { compileFault, type HttpFaultConfig } from '../policy/fault.js';
import { convertRateLimitFilter, type RateLimitFilterMsg } from './convert-rate-limits.js';
import { LocalRateLimiter, type LocalRateLimitConfig } from '../policy/local-rate-limit.js';
import { convertDynamicForwardProxyFilter } from './convert-dns-cache.js';
import { convertExtAuthz, convertHttpRbac, convertJwtAuthn } from './convert-security-filters.js';
import { convertLaneFilter, isLaneFilter, typedStructType } from './convert-lanes.js';
import { convertStatsFilter, isStatsFilter } from './convert-stats.js';

function compiled<T>(compile: () => T, path: string, problems: Problems): T | undefined {
  try {
    return compile();
  } catch (err) {
    problems.error(isTrellisError(err) ? (err.path ?? path) : path, (err as Error).message);
    return undefined;
  }
}

/** Validates a local rate limit config by building a limiter; the data path builds its own. */
function checkedRateLimit(
  config: LocalRateLimitConfig,
  path: string,
  problems: Problems,
): LocalRateLimitConfig | undefined {
  const ok = compiled(
    () => new LocalRateLimiter(config, { clock: systemClock, random: Math.random }, path),
    path,
    problems,
  );
  return ok ? Object.freeze(config) : undefined;
}

/** One entry of HttpConnectionManager.http_filters; undefined when unsupported (reported). */
export function convertHttpFilter(
  f: { name?: string; typed_config?: AnyLike; is_optional?: boolean },
  path: string,
  problems: Problems,
): HttpFilterConfig | undefined {
  const name = f.name ?? '';
  const any = f.typed_config;
  switch (any?.type_url) {
    case TYPE.router:
      return { kind: 'router', name };
    case TYPE.fault: {
      const fault = compiled(
        () => compileFault(unpackAny<HttpFaultConfig>(any), `${path}.typed_config`),
        path,
        problems,
      );
      return fault ? { kind: 'fault', name, fault } : undefined;
    }
    case TYPE.localRateLimit: {
      const raw = unpackAny<LocalRateLimitConfig>(any);
      // Envoy's filter with no token_bucket only applies where a route configures one.
      if (raw.token_bucket === undefined) return { kind: 'local_ratelimit', name };
      const config = checkedRateLimit(raw, `${path}.typed_config`, problems);
      return config ? { kind: 'local_ratelimit', name, config } : undefined;
    }
    case TYPE.cors:
      return { kind: 'cors', name };
    case TYPE.dynamicForwardProxy: {
      const dnsCache = convertDynamicForwardProxyFilter(any, `${path}.typed_config`, problems);
      return dnsCache ? { kind: 'dynamic_forward_proxy', name, dnsCache } : undefined;
    }
    case TYPE.rateLimit: {
      const config = convertRateLimitFilter(
        unpackAny<RateLimitFilterMsg>(any),
        `${path}.typed_config`,
        problems,
      );
      return config ? { kind: 'ratelimit', name, config } : undefined;
    }
    case TYPE.rbac:
      return convertHttpRbac(name, any, `${path}.typed_config`, problems);
    case TYPE.jwtAuthn:
      return convertJwtAuthn(name, any, `${path}.typed_config`, problems);
    case TYPE.extAuthz:
      return convertExtAuthz(name, any, `${path}.typed_config`, problems);
    case TYPE.typedStruct: {
      // Trellis's own filters travel as TypedStruct (protocol/trellis/); any other is unknown.
      const inner = typedStructType(any);
      if (isStatsFilter(inner.typeUrl)) {
        const stats = convertStatsFilter(inner.value, `${path}.typed_config.value`, problems);
        return stats ? { kind: 'istio_stats', name, stats } : undefined;
      }
      if (!isLaneFilter(inner.typeUrl)) break;
      const lanes = convertLaneFilter(inner.value, `${path}.typed_config.value`, problems);
      return lanes ? { kind: 'lanes', name, lanes } : undefined;
    }
    default:
      break;
  }
  return unsupportedFilter(f, path, problems);
}

function unsupportedFilter(
  f: { name?: string; typed_config?: AnyLike; is_optional?: boolean },
  path: string,
  problems: Problems,
): undefined {
  if (f.is_optional === true) return undefined;
  const any = f.typed_config;
  const type =
    any?.type_url === TYPE.typedStruct
      ? `${any.type_url} of ${typedStructType(any).typeUrl || 'no type_url'}`
      : (any?.type_url ?? 'no typed_config');
  problems.error(path, `HTTP filter ${JSON.stringify(f.name || any?.type_url)} (${type}) is not supported`);
  return undefined;
}

/** typed_per_filter_config -> overrides by filter name. */
export function convertPerFilterConfig(
  map: Record<string, AnyLike> | undefined,
  path: string,
  problems: Problems,
): ReadonlyMap<string, FilterOverride> {
  const out = new Map<string, FilterOverride>();
  for (const [name, any] of Object.entries(map ?? {})) {
    const p = `${path}["${name}"]`;
    switch (any.type_url) {
      case TYPE.fault: {
        const fault = compiled(() => compileFault(unpackAny<HttpFaultConfig>(any), p), p, problems);
        if (fault) out.set(name, { fault });
        break;
      }
      case TYPE.localRateLimit: {
        const config = checkedRateLimit(unpackAny<LocalRateLimitConfig>(any), p, problems);
        if (config) out.set(name, { localRateLimit: config });
        break;
      }
      case TYPE.corsPolicy: {
        const cors = compiled(() => compileCorsPolicy(unpackAny<CorsPolicyConfig>(any), p), p, problems);
        if (cors) out.set(name, { cors });
        break;
      }
      default:
        problems.error(p, `per-filter config of type ${any.type_url} is not supported`);
    }
  }
  return out;
}
