/**
 * Envoy's /config_dump shape (envoy.admin.v3.ConfigDump) built from the accepted resources:
 * one entry per type with dynamic_active_clusters / dynamic_endpoint_configs / dynamic_listeners
 * / dynamic_route_configs, each with version_info and last_updated. Printed as proto3 JSON
 * (camelCase names, as protojson and `istioctl proxy-config` read them).
 */
import { anyToJson } from '../../protocol/protos.js';
import type { ProxyConfigSnapshot, RawResource } from '../config.js';
import type { NodeMsg } from '../xds-client/bootstrap.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

function time(ms: number): string {
  return new Date(ms).toISOString();
}

function sorted(map: ReadonlyMap<string, RawResource>): RawResource[] {
  return [...map.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function configDump(snapshot: ProxyConfigSnapshot, node: NodeMsg): Record<string, unknown> {
  return {
    configs: [
      {
        '@type': `${ADMIN}BootstrapConfigDump`,
        bootstrap: { node: { id: node.id, cluster: node.cluster, userAgentName: node.user_agent_name } },
      },
      {
        '@type': `${ADMIN}ClustersConfigDump`,
        versionInfo: snapshot.versions.CDS,
        dynamicActiveClusters: sorted(snapshot.raw.CDS).map((r) => ({
          versionInfo: r.version,
          cluster: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
      {
        '@type': `${ADMIN}EndpointsConfigDump`,
        dynamicEndpointConfigs: sorted(snapshot.raw.EDS).map((r) => ({
          versionInfo: r.version,
          endpointConfig: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
      {
        '@type': `${ADMIN}ListenersConfigDump`,
        versionInfo: snapshot.versions.LDS,
        dynamicListeners: sorted(snapshot.raw.LDS).map((r) => ({
          name: r.name,
          activeState: {
            versionInfo: r.version,
            listener: anyToJson(r.resource),
            lastUpdated: time(r.lastUpdatedMs),
          },
        })),
      },
      {
        '@type': `${ADMIN}RoutesConfigDump`,
        dynamicRouteConfigs: sorted(snapshot.raw.RDS).map((r) => ({
          versionInfo: r.version,
          routeConfig: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
    ],
  };
}
