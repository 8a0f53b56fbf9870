/**
 * The Envoy bootstrap the agent writes (`trellis agent --envoy-bootstrap FILE`), shaped like
 * Istio's (tools/packaging/common/envoy_bootstrap.json): the node as the control plane reads it,
 * ADS over the static `xds-grpc` cluster (HTTP/2 to the control plane), and the static `sds-grpc`
 * cluster over the agent's Unix socket, which Istio's `default`/`ROOTCA` SDS references name.
 *
 * It is built as the generated Envoy `Bootstrap` type (a misspelt field does not compile), then
 * checked against Envoy's validate rules, written as proto3 JSON and read back strictly
 * (proto-json.ts), so the file on disk is one Envoy accepts field for field.
 */
import { isIP } from 'node:net';
import { TrellisError } from '../core/errors.js';
import { TYPE, packAny } from '../protocol/protos.js';
import { validateRules } from '../protocol/validate-rules.js';
import type { Bootstrap } from '../protocol/generated/envoy/config/bootstrap/v3/Bootstrap.js';
import type { Cluster } from '../protocol/generated/envoy/config/cluster/v3/Cluster.js';
import type { Address } from '../protocol/generated/envoy/config/core/v3/Address.js';
import { fromProtoJson, toProtoJson, type ProtoJsonProblem } from './proto-json.js';
import { localityOf, nodeIdFor, nodeMetadata, type WorkloadNode } from './workload-node.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
export const XDS_CLUSTER = 'xds-grpc';
export const SDS_CLUSTER = 'sds-grpc';

export interface EnvoyBootstrapOptions {
  workload: WorkloadNode;
  /** Envoy's node id; default `sidecar~IP~workload.ns~ns.svc.cluster.local`. */
  nodeId?: string;
  /** Envoy's node.cluster; default `workload.namespace` as Istio. */
  cluster?: string;
  /** The control plane's xDS address. */
  xds: { host: string; port: number };
  /** The agent's SDS socket, as Envoy will open it (absolute, or relative to Envoy's cwd). */
  sdsSocket: string;
  /** Envoy's admin port on 127.0.0.1; default 15000. */
  adminPort?: number;
}

const seconds = (s: number) => ({ seconds: Math.floor(s), nanos: Math.round((s % 1) * 1e9) });

const http2Only = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(TYPE.http2Options, {
    explicit_http_config: { http2_protocol_options: {} },
  }),
};

function staticCluster(name: string, address: Address, dns: boolean): Cluster {
  return {
    name,
    type: dns ? 'STRICT_DNS' : 'STATIC',
    connect_timeout: seconds(1),
    lb_policy: 'ROUND_ROBIN',
    typed_extension_protocol_options: http2Only,
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
  };
}

function struct(json: Record<string, unknown>): { fields: Record<string, object> } {
  const value = (v: unknown): object => {
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'number') return { numberValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    if (v !== null && typeof v === 'object') return { structValue: struct(v as Record<string, unknown>) };
    return { nullValue: 'NULL_VALUE' };
  };
  return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, value(v)])) };
}

export function envoyBootstrap(o: EnvoyBootstrapOptions): Bootstrap {
  const w = o.workload;
  const ads = { ads: {}, initial_fetch_timeout: seconds(0), resource_api_version: 'V3' as const };
  const xds = staticCluster(
    XDS_CLUSTER,
    { socket_address: { address: o.xds.host, port_value: o.xds.port } },
    isIP(o.xds.host) === 0,
  );
  // As Istio: the control plane stream must not be limited by Envoy's default breakers.
  const many = { value: 100000 };
  const unlimited = { max_connections: many, max_pending_requests: many, max_requests: many };
  xds.circuit_breakers = {
    thresholds: [
      { priority: 'DEFAULT', ...unlimited },
      { priority: 'HIGH', ...unlimited },
    ],
  };
  xds.upstream_connection_options = { tcp_keepalive: { keepalive_time: { value: 300 } } };
  return {
    node: {
      id: o.nodeId ?? nodeIdFor('sidecar', w),
      cluster: o.cluster ?? `${w.workloadName}.${w.namespace}`,
      locality: localityOf(w),
      metadata: struct(nodeMetadata(w, { PROXY_TYPE: 'sidecar' })),
    },
    admin: {
      access_log: [
        {
          name: 'envoy.access_loggers.file',
          typed_config: packAny(TYPE.fileAccessLog, { path: '/dev/null' }),
        },
      ],
      address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort ?? 15000 } },
    },
    dynamic_resources: {
      lds_config: ads,
      cds_config: ads,
      ads_config: {
        api_type: 'GRPC',
        set_node_on_first_message_only: true,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
      },
    },
    static_resources: {
      clusters: [staticCluster(SDS_CLUSTER, { pipe: { path: o.sdsSocket } }, false), xds],
    },
  };
}

/** Problems Envoy would have with a bootstrap file's text: JSON, unknown fields, types, validate rules. */
export function checkEnvoyBootstrapJson(text: string): ProtoJsonProblem[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return [{ path: '', message: `not JSON: ${(err as Error).message}` }];
  }
  const read = fromProtoJson(BOOTSTRAP_TYPE, json);
  if (read.problems.length > 0) return read.problems;
  return validateRules(BOOTSTRAP_TYPE, read.value).map((f) => ({
    path: f.path,
    message: `${f.rule}: ${f.message}`,
  }));
}

/** The bootstrap as the JSON text to write; throws (a Trellis bug) if it would not load. */
export function renderEnvoyBootstrap(o: EnvoyBootstrapOptions): string {
  const text = `${JSON.stringify(toProtoJson(BOOTSTRAP_TYPE, envoyBootstrap(o)), null, 2)}\n`;
  const problems = checkEnvoyBootstrapJson(text);
  if (problems.length > 0)
    throw new TrellisError(
      'TRELLIS_INTERNAL',
      `the Envoy bootstrap would not load: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
  return text;
}
