/**
 * What the server reports about its streams: `/debug/syncz` rows (per type: sent and ACKed
 * versions and nonces, the last NACK) and Envoy-shaped config dumps of what each proxy holds.
 */
import { RESOURCE_TYPES, SHORT_TYPE, TYPE, anyToJson } from '../../protocol/protos.js';
import { redactSecretJson } from '../../protocol/redact.js';
import type { ProxyNode } from '../proxy-node.js';
import { heldResources, runningVersion, syncStatus, type Connection, type SyncStatus } from './connection.js';
import { resourceVersion } from './resource-encoding.js';

export interface ProxyStatus {
  proxy: string;
  type: ProxyNode['type'];
  namespace: string;
  /** The workload's name (metadata WORKLOAD_NAME, else the id's NAME part): its short name. */
  workloadName: string;
  /** The proxy's version, as Istio reads it from node metadata ISTIO_VERSION; '' when not sent. */
  proxyVersion: string;
  /** The proxy's admin endpoint (node metadata ADMIN_ADDRESS, a Trellis key); '' when not sent. */
  adminAddress: string;
  /** The workload's labels (node metadata LABELS). */
  labels?: Readonly<Record<string, string>>;
  /** Node metadata TRELLIS_PROXY_CONFIG: the ProxyConfig the proxy started with; '' when not sent. */
  startedProxyConfig?: string;
  /** Filled in by the control plane: is that still the ProxyConfig the proxy would start with? */
  proxyConfig?: { started: string; current: string; inEffect: boolean; sources: string[] };
  mode: 'sotw' | 'delta';
  peer: string;
  connectedAt: string;
  pushContextVersion: string;
  /**
   * The config store revision the proxy runs as a whole (the oldest over its routing types;
   * -1 before its first ACK). Filled in by the control plane, which knows what versions mean.
   */
  configRevision?: number;
  types: Record<
    string,
    {
      status: SyncStatus;
      lastSentVersion: string;
      lastSentNonce: string;
      lastAckedVersion: string;
      lastAckedNonce: string;
      /**
       * The push version whose config of this type the proxy runs: the last response once ACKed,
       * carried forward over later pushes that left the type unchanged for this proxy ('' before
       * the first ACK). Its first part is the config store revision the push was built from.
       */
      runningVersion: string;
      lastNack?: { version: string; nonce: string; message: string; at: string };
      resources: number;
    }
  >;
}

export function connectionStatus(c: Connection, pushContextVersion: string): ProxyStatus {
  const types: ProxyStatus['types'] = {};
  for (const t of RESOURCE_TYPES) {
    const s = c.types.get(t);
    if (!s?.subscribed) continue;
    types[SHORT_TYPE[t]] = {
      status: syncStatus(s),
      lastSentVersion: s.lastSentVersion,
      lastSentNonce: s.lastSentNonce,
      lastAckedVersion: s.lastAckedVersion,
      lastAckedNonce: s.lastAckedNonce,
      runningVersion: runningVersion(s),
      ...(s.nack ? { lastNack: { ...s.nack, at: new Date(s.nack.at).toISOString() } } : {}),
      resources: heldResources(s).size,
    };
  }
  return {
    proxy: c.proxy.id,
    type: c.proxy.type,
    namespace: c.proxy.namespace,
    workloadName: c.proxy.workloadName,
    proxyVersion: metadataString(c.proxy.metadata.ISTIO_VERSION),
    adminAddress: metadataString(c.proxy.metadata.ADMIN_ADDRESS),
    labels: c.proxy.labels,
    startedProxyConfig: metadataString(c.proxy.metadata.TRELLIS_PROXY_CONFIG),
    mode: c.mode,
    peer: c.peer,
    connectedAt: new Date(c.connectedAt).toISOString(),
    pushContextVersion,
    types,
  };
}

const metadataString = (v: unknown): string => (typeof v === 'string' ? v : '');

const DUMP_SECTIONS: readonly [string, string, string][] = [
  [TYPE.cluster, 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', 'dynamic_active_clusters'],
  [TYPE.listener, 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump', 'dynamic_listeners'],
  [TYPE.route, 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', 'dynamic_route_configs'],
  [TYPE.endpoint, 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump', 'dynamic_endpoint_configs'],
  [TYPE.secret, 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump', 'dynamic_active_secrets'],
];

export function connectionConfigDump(c: Connection): object {
  return {
    node: { id: c.proxy.id, type: c.proxy.type, namespace: c.proxy.namespace, labels: c.proxy.labels },
    configs: DUMP_SECTIONS.map(([typeUrl, dumpType, field]) => {
      const s = c.types.get(typeUrl);
      const held = s ? heldResources(s) : new Map<string, Uint8Array>();
      return {
        '@type': dumpType,
        [field]: [...held].map(([name, bytes]) => {
          const resource = anyToJson({ type_url: typeUrl, value: bytes });
          return {
            name,
            version_info: resourceVersion(bytes),
            // Private keys never leave in a dump, as in Envoy's own.
            resource: typeUrl === TYPE.secret ? redactSecretJson(resource) : resource,
          };
        }),
      };
    }),
  };
}
