import { proxyTypeOf, type FirstRequest } from './grpc-client.js';
import type { ProxyNode } from './proxy-node.js';

/**
 * google.protobuf.Struct as protobufjs decodes it, turned into plain JSON values. protobufjs
 * defines the well-known types itself with camelCase field names (`stringValue`), whatever the
 * `keepCase` option says for the Envoy protos, so camelCase is what goes over the wire here;
 * snake_case is read too, for objects built by hand.
 */
type StructValue = {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, StructValue> };
  listValue?: { values?: StructValue[] };
  null_value?: unknown;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: { fields?: Record<string, StructValue> };
  list_value?: { values?: StructValue[] };
};

export function structToJson(
  struct: { fields?: Record<string, StructValue> } | undefined | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(struct?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: StructValue): unknown {
  const str = v.stringValue ?? v.string_value;
  if (str !== undefined) return str;
  const num = v.numberValue ?? v.number_value;
  if (num !== undefined) return num;
  const bool = v.boolValue ?? v.bool_value;
  if (bool !== undefined) return bool;
  const struct = v.structValue ?? v.struct_value;
  if (struct !== undefined) return structToJson(struct);
  const list = v.listValue ?? v.list_value;
  if (list !== undefined) return (list.values ?? []).map(valueToJson);
  return null;
}

/** JSON values as a google.protobuf.Struct object for protobufjs (the inverse of structToJson). */
export function jsonToStruct(json: Record<string, unknown>): { fields: Record<string, StructValue> } {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): StructValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (v !== null && typeof v === 'object') return { structValue: jsonToStruct(v as Record<string, unknown>) };
  return { nullValue: 'NULL_VALUE' };
}

export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: { fields?: Record<string, StructValue> } | null;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
  user_agent_name?: string;
  client_features?: string[];
}

/**
 * Reads a ProxyNode from the xDS `node` (see proxy-node.ts for the conventions). Labels may come
 * as a struct (`LABELS`) or as `k=v,k=v` text; proxyless gRPC is recognised by GENERATOR=grpc, an
 * id starting with `grpc~`, or, for bootstraps without Istio's metadata, by its user agent and the
 * listener names of its first request (grpc-client.ts).
 */
export function parseNode(node: NodeMessage | undefined | null, first?: FirstRequest): ProxyNode {
  const id = node?.id ?? '';
  const metadata = structToJson(node?.metadata ?? undefined);
  const parts = id.split('~');
  const idType = parts.length >= 4 ? parts[0] : undefined;
  const type = proxyTypeOf(
    {
      idType,
      generator: metadata.GENERATOR,
      router: metadata.ROUTER,
      userAgentName: node?.user_agent_name,
    },
    first,
  );

  const idName = parts.length >= 4 ? (parts[2] ?? '') : '';
  const dot = idName.lastIndexOf('.');
  const idNamespace = dot > 0 ? idName.slice(dot + 1) : '';
  const namespace = str(metadata.NAMESPACE) || idNamespace || 'default';

  let labels: Record<string, string> = {};
  if (typeof metadata.LABELS === 'string') {
    for (const pair of metadata.LABELS.split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
  } else if (metadata.LABELS && typeof metadata.LABELS === 'object') {
    labels = Object.fromEntries(Object.entries(metadata.LABELS).map(([k, v]) => [k, String(v)]));
  }

  const ips = str(metadata.INSTANCE_IPS) || (parts.length >= 4 ? (parts[1] ?? '') : '');
  const loc = node?.locality;
  const locality = loc
    ? [loc.region ?? '', loc.zone ?? '', loc.sub_zone ?? ''].join('/').replace(/\/+$/, '')
    : '';
  return Object.freeze({
    id,
    type,
    namespace,
    labels: Object.freeze(labels),
    workloadName: str(metadata.WORKLOAD_NAME) || (dot > 0 ? idName.slice(0, dot) : idName) || id,
    ipAddresses: Object.freeze(
      ips
        ? ips
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
    locality,
    cluster: node?.cluster ?? '',
    metadata: Object.freeze(metadata),
  });
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
