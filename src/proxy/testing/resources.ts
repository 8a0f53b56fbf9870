/**
 * Builders for the Envoy resources tests serve through FakeAds, shaped the way Trellis's control
 * plane names them (Istio's conventions). Plain snake_case objects, as protobufjs expects.
 */
import { TYPE, packAny } from '../../protocol/protos.js';

export function httpListener(
  port: number,
  routeName = String(port),
  extra: {
    accessLogPath?: string;
    address?: string;
    httpFilters?: object[];
    upgradeTypes?: string[];
    /** More HttpConnectionManager fields (normalize_path, merge_slashes, ...). */
    hcm?: Record<string, unknown>;
  } = {},
): object {
  const hcm: Record<string, unknown> = {
    stat_prefix: `outbound_0.0.0.0_${port}`,
    rds: { route_config_name: routeName, config_source: { ads: {} } },
    http_filters: [
      ...(extra.httpFilters ?? []),
      { name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) },
    ],
  };
  if (extra.hcm) Object.assign(hcm, extra.hcm);
  if (extra.upgradeTypes) hcm.upgrade_configs = extra.upgradeTypes.map((upgrade_type) => ({ upgrade_type }));
  if (extra.accessLogPath) {
    hcm.access_log = [
      {
        name: 'envoy.access_loggers.file',
        typed_config: packAny(TYPE.fileAccessLog, { path: extra.accessLogPath }),
      },
    ];
  }
  const address = extra.address ?? '0.0.0.0';
  return {
    name: `${address}_${port}`,
    address: { socket_address: { address, port_value: port } },
    filter_chains: [
      {
        filters: [
          { name: 'envoy.filters.network.http_connection_manager', typed_config: packAny(TYPE.hcm, hcm) },
        ],
      },
    ],
  };
}

export function tcpListener(port: number, cluster: string): object {
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: packAny(TYPE.tcpProxy, { stat_prefix: cluster, cluster }),
          },
        ],
      },
    ],
  };
}

export function routeConfig(name: string, virtualHosts: object[]): object {
  return { name, virtual_hosts: virtualHosts };
}

export function virtualHost(name: string, domains: string[], routes: object[]): object {
  return { name, domains, routes };
}

export function routeTo(cluster: string, match: object = { prefix: '/' }, action: object = {}): object {
  return { match, route: { cluster, ...action } };
}

export function edsCluster(name: string, extra: object = {}): object {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} } },
    connect_timeout: { seconds: 1 },
    ...extra,
  };
}

export function h2Options(): Record<string, unknown> {
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(TYPE.http2Options, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    },
  };
}

export function endpoints(
  clusterName: string,
  addrs: { host?: string; port: number; healthy?: boolean; workload?: string }[],
): object {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: {},
        load_balancing_weight: { value: 1 },
        lb_endpoints: addrs.map((a) => ({
          endpoint: { address: { socket_address: { address: a.host ?? '127.0.0.1', port_value: a.port } } },
          health_status: a.healthy === false ? 'UNHEALTHY' : 'HEALTHY',
          ...(a.workload
            ? {
                metadata: {
                  filter_metadata: { istio: { fields: { workload: { stringValue: a.workload } } } },
                },
              }
            : {}),
        })),
      },
    ],
  };
}
