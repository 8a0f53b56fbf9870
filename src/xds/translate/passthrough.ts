/**
 * Outbound traffic to hosts the registry does not know (Istio's outboundTrafficPolicy), for HTTP:
 * every sidecar route configuration ends with a catch-all virtual host, as Istio's does
 * (pilot/pkg/networking/core/httproute.go, buildCatchAllVirtualHost):
 *
 * - ALLOW_ANY: `allow_any`, routing everything to the passthrough cluster with no timeout;
 * - REGISTRY_ONLY: `block_all`, a direct 502 response.
 *
 * Istio's `allow_any` goes to the ORIGINAL_DST PassthroughCluster: with iptables, the address
 * the app dialled. A Trellis sidecar is often reached without capture (HTTP_PROXY), where the
 * only destination a request has is the host it names; so `allow_any` goes to a dynamic forward
 * proxy cluster instead (Envoy's `envoy.clusters.dynamic_forward_proxy`, with its HTTP filter in
 * the outbound connection managers), which resolves the Host by DNS through a bounded cache. The
 * same config means the same thing to Envoy. TCP keeps Istio's PassthroughCluster.
 *
 * Metrics count both as Istio's stats do, by route name: `allow_any` is PassthroughCluster,
 * `block_all` BlackHoleCluster.
 */
import type { Cluster, DnsCacheConfig, HttpFilter, VirtualHost } from '../../protocol/envoy-types.js';
import type { OutboundTrafficPolicyMode } from '../../api/mesh-config.js';
import { TYPE } from '../../protocol/protos.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, defaultCircuitBreakers } from './cluster.js';
import { durationMs, pack, typedFilter, wrapU32 } from './envoy.js';
import type { PushContext } from './push-context.js';
import type { ProxyScope } from './scope.js';

/** Istio's names for the catch-all virtual host and route (its stats key on them). */
export const ALLOW_ANY = 'allow_any';
export const BLOCK_ALL = 'block_all';

/** The cluster `allow_any` routes to: the Host of the request, resolved by DNS. */
export const PASSTHROUGH_DNS_CLUSTER = 'PassthroughDnsCluster';

export const DYNAMIC_FORWARD_PROXY_FILTER = 'envoy.filters.http.dynamic_forward_proxy';
const DYNAMIC_FORWARD_PROXY_CLUSTER_TYPE = 'envoy.clusters.dynamic_forward_proxy';

/**
 * The DNS cache the filter and the cluster share (Envoy requires the same config under one
 * name). Envoy's defaults, written out so the config dump shows them: hosts re-resolved every
 * 60 s, forgotten after 5 minutes unused, at most 1024 of them and 1024 lookups in flight.
 */
export function passthroughDnsCache(): DnsCacheConfig {
  return {
    name: 'trellis_passthrough',
    dns_lookup_family: 'V4_PREFERRED',
    dns_refresh_rate: durationMs(60_000),
    host_ttl: durationMs(300_000),
    max_hosts: wrapU32(1024),
    dns_query_timeout: durationMs(5_000),
    dns_cache_circuit_breaker: { max_pending_requests: wrapU32(1024) },
  };
}

export function passthroughDnsCluster(): Cluster {
  return {
    name: PASSTHROUGH_DNS_CLUSTER,
    cluster_type: {
      name: DYNAMIC_FORWARD_PROXY_CLUSTER_TYPE,
      typed_config: pack(TYPE.dynamicForwardProxyCluster, { dns_cache_config: passthroughDnsCache() }),
    },
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    circuit_breakers: defaultCircuitBreakers(),
  };
}

/** The HTTP filter that resolves the Host before the router sends to PassthroughDnsCluster. */
export function dynamicForwardProxyFilter(): HttpFilter {
  return typedFilter(DYNAMIC_FORWARD_PROXY_FILTER, TYPE.dynamicForwardProxy, {
    dns_cache_config: passthroughDnsCache(),
  });
}

/** The policy for a sidecar: its Sidecar's outboundTrafficPolicy, else the mesh config's. */
export function outboundPolicy(push: PushContext, scope: ProxyScope): OutboundTrafficPolicyMode {
  return scope.sidecar?.spec.outboundTrafficPolicy?.mode ?? push.outboundTrafficPolicy;
}

/** The last virtual host of a sidecar route configuration (domains `*`). */
export function catchAllVirtualHost(mode: OutboundTrafficPolicyMode): VirtualHost {
  if (mode === 'REGISTRY_ONLY') {
    return {
      name: BLOCK_ALL,
      domains: ['*'],
      routes: [{ name: BLOCK_ALL, match: { prefix: '/' }, direct_response: { status: 502 } }],
    };
  }
  return {
    name: ALLOW_ANY,
    domains: ['*'],
    routes: [
      {
        name: ALLOW_ANY,
        match: { prefix: '/' },
        route: { cluster: PASSTHROUGH_DNS_CLUSTER, timeout: durationMs(0), max_grpc_timeout: durationMs(0) },
      },
    ],
  };
}
