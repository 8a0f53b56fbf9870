/**
 * The rate limit service's configuration, compiled from RateLimit resources: envoyproxy/
 * ratelimit's YAML format (https://github.com/envoyproxy/ratelimit#the-configuration-format)
 * as plain objects, one domain, with Trellis's two additions inside `rate_limit`: `algorithm`
 * and `burst`. Served by the control plane at GET /v1/ratelimit/config.
 *
 * Each global limit becomes one branch that mirrors its descriptor (compile.ts) entry by
 * entry: `generic_key: <id>` -> `header_match: matched` (only with request conditions) ->
 * the perKey entry with no value (envoyproxy/ratelimit then keeps one quota per distinct value).
 * The quota sits on the branch's last node, where the request's last entry lands.
 */
import { RATE_LIMIT_DOMAIN, type CompiledRateLimit } from './compile.js';

export interface RateLimitPolicy {
  unit: 'second' | 'minute' | 'hour' | 'day';
  requests_per_unit: number;
  /** Trellis: local and global limits both mean a token bucket refilled at requests/unit. */
  algorithm: 'token_bucket';
  /** Trellis: bucket capacity, when larger than requests_per_unit. */
  burst?: number;
}

export interface DescriptorNodeConfig {
  key: string;
  /** Absent: any value, each with its own quota. */
  value?: string;
  rate_limit?: RateLimitPolicy;
  shadow_mode?: boolean;
  descriptors?: DescriptorNodeConfig[];
}

export interface DomainConfig {
  domain: string;
  descriptors: DescriptorNodeConfig[];
}

export interface RateLimitServiceConfig {
  domains: DomainConfig[];
}

/**
 * The service config for every `mode: global` limit. The Trellis domain is always present
 * (possibly with no descriptors), so a service loading it knows the domain exists.
 */
export function buildRateLimitServiceConfig(limits: readonly CompiledRateLimit[]): RateLimitServiceConfig {
  const root: DescriptorNodeConfig[] = [];
  for (const limit of limits) {
    if (limit.mode !== 'global') continue;
    let level = root;
    let node: DescriptorNodeConfig | undefined;
    for (const step of limit.descriptor) {
      const value =
        step.action === 'generic_key' || step.action === 'header_value_match' ? step.value : undefined;
      let found = level.find((n) => n.key === step.key && n.value === value);
      if (found === undefined) {
        found = value === undefined ? { key: step.key } : { key: step.key, value };
        level.push(found);
      }
      node = found;
      level = found.descriptors ??= [];
    }
    if (node === undefined) continue;
    // The leaf's empty child list was made for a next step that never came.
    if (node.descriptors?.length === 0) delete node.descriptors;
    const policy: RateLimitPolicy = {
      unit: limit.quota.unit,
      requests_per_unit: limit.quota.requests,
      algorithm: 'token_bucket',
    };
    if (limit.quota.burst !== undefined && limit.quota.burst !== limit.quota.requests) {
      policy.burst = limit.quota.burst;
    }
    node.rate_limit = policy;
    if (limit.shadow) node.shadow_mode = true;
  }
  return { domains: [{ domain: RATE_LIMIT_DOMAIN, descriptors: root }] };
}
