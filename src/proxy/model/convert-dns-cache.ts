/**
 * The dynamic forward proxy's config: the cluster type `envoy.clusters.dynamic_forward_proxy`
 * and the HTTP filter `envoy.filters.http.dynamic_forward_proxy`, both carrying a DnsCacheConfig.
 * What the proxy does not implement (sub-clusters, resolver choices, preresolved or persisted
 * hosts, hosts from filter state) is rejected, naming the field.
 */
import type { Problems } from '../../core/errors.js';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type {
  DnsCacheConfig__Output,
  DynamicForwardProxyCluster__Output,
  DynamicForwardProxyFilter__Output,
} from '../../protocol/envoy-types.js';
import type { DnsCacheSettings } from './config.js';
import { checkFields, durationMs, fieldSet, u32 } from './convert-common.js';

export const DYNAMIC_FORWARD_PROXY_CLUSTER = 'envoy.clusters.dynamic_forward_proxy';

const CACHE_FIELDS = fieldSet(
  'name',
  'dns_lookup_family',
  'dns_refresh_rate',
  'host_ttl',
  'max_hosts',
  'dns_cache_circuit_breaker',
  'dns_query_timeout',
);

const FAMILIES: ReadonlySet<string> = new Set(['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL']);

export function convertDnsCache(
  msg: DnsCacheConfig__Output | undefined,
  path: string,
  problems: Problems,
): DnsCacheSettings | undefined {
  if (msg === undefined) {
    problems.error(path, 'required');
    return undefined;
  }
  checkFields(msg, path, CACHE_FIELDS, problems);
  const name = msg.name ?? '';
  if (name === '') problems.error(`${path}.name`, 'must be non-empty');
  const family = msg.dns_lookup_family ?? 'AUTO';
  if (!FAMILIES.has(family)) problems.error(`${path}.dns_lookup_family`, `${family} is not supported`);
  const settings: DnsCacheSettings = {
    name,
    family: family,
    // Envoy's defaults.
    refreshMs: durationMs(msg.dns_refresh_rate, 60_000),
    hostTtlMs: durationMs(msg.host_ttl, 300_000),
    maxHosts: u32(msg.max_hosts, 1024),
    maxPending: u32(msg.dns_cache_circuit_breaker?.max_pending_requests, 1024),
    queryTimeoutMs: durationMs(msg.dns_query_timeout, 5_000),
  };
  if (settings.refreshMs < 1) problems.error(`${path}.dns_refresh_rate`, 'must be at least 1ms');
  if (settings.hostTtlMs < 1) problems.error(`${path}.host_ttl`, 'must be greater than 0');
  if (settings.maxHosts < 1) problems.error(`${path}.max_hosts`, 'must be greater than 0');
  if (settings.queryTimeoutMs < 1) problems.error(`${path}.dns_query_timeout`, 'must be greater than 0');
  return Object.freeze(settings);
}

const CLUSTER_CONFIG_FIELDS = fieldSet('dns_cache_config');

/** Cluster.cluster_type of a dynamic forward proxy cluster -> its DNS cache. */
export function convertDynamicForwardProxyCluster(
  clusterType: { name?: string; typed_config?: AnyLike },
  path: string,
  problems: Problems,
): DnsCacheSettings | undefined {
  if (clusterType.name !== DYNAMIC_FORWARD_PROXY_CLUSTER) {
    problems.error(
      `${path}.name`,
      `cluster type ${JSON.stringify(clusterType.name)} is not supported (expected ${DYNAMIC_FORWARD_PROXY_CLUSTER})`,
    );
    return undefined;
  }
  const any = clusterType.typed_config;
  if (any?.type_url !== TYPE.dynamicForwardProxyCluster) {
    problems.error(`${path}.typed_config`, `expected ${TYPE.dynamicForwardProxyCluster}`);
    return undefined;
  }
  const msg = unpackAny<DynamicForwardProxyCluster__Output>(any);
  checkFields(msg, `${path}.typed_config`, CLUSTER_CONFIG_FIELDS, problems);
  return convertDnsCache(msg.dns_cache_config, `${path}.typed_config.dns_cache_config`, problems);
}

const FILTER_FIELDS = fieldSet('dns_cache_config', 'save_upstream_address');

/** The HTTP filter's config -> its DNS cache. */
export function convertDynamicForwardProxyFilter(
  any: AnyLike,
  path: string,
  problems: Problems,
): DnsCacheSettings | undefined {
  const msg = unpackAny<DynamicForwardProxyFilter__Output>(any);
  checkFields(msg, path, FILTER_FIELDS, problems);
  return convertDnsCache(msg.dns_cache_config, `${path}.dns_cache_config`, problems);
}
