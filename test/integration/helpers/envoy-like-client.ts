/**
 * A minimal Envoy-like ADS client for tests: subscribes to CDS and LDS (wildcard), then to EDS
 * for every EDS cluster and RDS for every route name its listeners reference, ACKs everything,
 * and records each response it receives by type.
 */
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../../src/protocol/grpc-services.js';
import {
  SHORT_TYPE,
  TYPE,
  unpackAny,
  type AnyMessage,
  type ResourceTypeUrl,
} from '../../../src/protocol/protos.js';
import { jsonToStruct } from '../../../src/xds/node.js';

interface Response {
  version_info: string;
  nonce: string;
  type_url: string;
  resources?: AnyMessage[];
}

export interface ReceivedResponse {
  type: string;
  version: string;
  names: string[];
}

export interface EnvoyLikeClient {
  received: ReceivedResponse[];
  /** Latest resources by type and name, decoded. */
  resources: Map<string, Map<string, Record<string, unknown>>>;
  close(): void;
}

const Ads = grpc.makeGenericClientConstructor(adsService(), 'ADS');

export function connectEnvoyLike(
  xdsPort: number,
  node: { id: string; metadata?: Record<string, unknown> },
): EnvoyLikeClient {
  const client = new Ads(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  const stream = (
    client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response> }
  ).StreamAggregatedResources();
  const nodeMsg = { id: node.id, metadata: jsonToStruct(node.metadata ?? {}) };
  const names: Record<string, string[]> = { [TYPE.endpoint]: [], [TYPE.route]: [] };
  const out: EnvoyLikeClient = {
    received: [],
    resources: new Map(),
    close: () => (stream.end(), client.close()),
  };
  const subscribe = (typeUrl: string, resourceNames: string[], version = '', nonce = '') =>
    stream.write({
      node: nodeMsg,
      type_url: typeUrl,
      resource_names: resourceNames,
      version_info: version,
      response_nonce: nonce,
    });

  stream.on('data', (r: Response) => {
    const decoded = new Map<string, Record<string, unknown>>();
    for (const any of r.resources ?? []) {
      const obj = unpackAny<Record<string, unknown>>(any);
      decoded.set((obj.name ?? obj.cluster_name ?? '') as string, obj);
    }
    out.resources.set(r.type_url, decoded);
    out.received.push({
      type: SHORT_TYPE[r.type_url as ResourceTypeUrl],
      version: r.version_info,
      names: [...decoded.keys()],
    });
    // ACK with the subscription unchanged.
    subscribe(r.type_url, names[r.type_url] ?? [], r.version_info, r.nonce);
    if (r.type_url === TYPE.cluster) {
      const eds = [...decoded.values()].filter((c) => c.type === 'EDS').map((c) => String(c.name));
      if (eds.join() !== names[TYPE.endpoint]!.join()) {
        names[TYPE.endpoint] = eds;
        subscribe(TYPE.endpoint, eds);
      }
    }
    if (r.type_url === TYPE.listener) {
      const routes = new Set<string>();
      for (const l of decoded.values()) {
        for (const m of JSON.stringify(l).matchAll(/"route_config_name":"([^"]+)"/g)) routes.add(m[1]!);
      }
      // route_config_name sits inside a packed Any: decode the HCMs to find it.
      for (const l of decoded.values()) {
        for (const chain of (l.filter_chains as
          { filters?: { typed_config?: AnyMessage }[] }[] | undefined) ?? []) {
          for (const f of chain.filters ?? []) {
            if (f.typed_config?.type_url === TYPE.hcm) {
              const hcm = unpackAny<{ rds?: { route_config_name?: string } }>(f.typed_config);
              if (hcm.rds?.route_config_name) routes.add(hcm.rds.route_config_name);
            }
          }
        }
      }
      const list = [...routes].sort();
      if (list.join() !== names[TYPE.route]!.join()) {
        names[TYPE.route] = list;
        subscribe(TYPE.route, list);
      }
    }
  });
  stream.on('error', () => undefined);
  subscribe(TYPE.cluster, []);
  subscribe(TYPE.listener, []);
  return out;
}
