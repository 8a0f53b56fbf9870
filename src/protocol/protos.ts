/**
 * Protocol definitions: Envoy's xDS v3 API and the rate limit service API, loaded from the
 * protos that ship inside the pinned `@grpc/grpc-js-xds` package (never copied into this repo),
 * and Trellis's own services (src/protocol/trellis/: the CA's CertificateService).
 *
 * Messages are plain objects with the protos' own snake_case field names (`keepCase`), the same
 * shape grpc-js-xds uses. Resources travel as google.protobuf.Any; `packAny`/`unpackAny`
 * convert between objects and Any using the type URL.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { TrellisError } from '../core/errors.js';
import { PROTO_FILES, trellisProtoFiles } from './proto-files.js';

const require = createRequire(import.meta.url);

export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  dynamicForwardProxy:
    'type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig',
  dynamicForwardProxyCluster:
    'type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig',
  aggregateCluster: 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  localRateLimit: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  rateLimit: 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  rbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  networkRbac: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  jwtAuthn: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  extAuthz: 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  networkExtAuthz: 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  uriTemplateMatch: 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  fileAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  stdoutAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  ringHashLb: 'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
  roundRobinLb: 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  http2Options: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  typedStruct: 'type.googleapis.com/xds.type.v3.TypedStruct',
  openTelemetryTracer: 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
  celAccessLogFilter: 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter',
} as const;

export type ResourceTypeUrl = (typeof TYPE)['listener' | 'route' | 'cluster' | 'endpoint' | 'secret'];

export const RESOURCE_TYPES: readonly ResourceTypeUrl[] = [
  TYPE.cluster,
  TYPE.endpoint,
  TYPE.listener,
  TYPE.route,
  TYPE.secret,
];

/** Short names used in logs, metrics and debug output (Istio's: CDS, EDS, LDS, RDS, SDS). */
export const SHORT_TYPE: Record<ResourceTypeUrl, 'CDS' | 'EDS' | 'LDS' | 'RDS' | 'SDS'> = {
  [TYPE.cluster]: 'CDS',
  [TYPE.endpoint]: 'EDS',
  [TYPE.listener]: 'LDS',
  [TYPE.route]: 'RDS',
  [TYPE.secret]: 'SDS',
};

function depsDir(): string {
  const pkg = require.resolve('@grpc/grpc-js-xds/package.json');
  return path.join(path.dirname(pkg), 'deps');
}

let cachedRoot: protobuf.Root | undefined;

/** The protobufjs root with every message Trellis uses; loaded once, on first use. */
export function protoRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const deps = depsDir();
  const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
    path.join(deps, d),
  );
  // descriptor.proto (imported by the validate/udpa annotations) ships with protobufjs itself.
  includeDirs.push(path.dirname(require.resolve('protobufjs/package.json')));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      try {
        require.resolve(candidate);
        return candidate;
      } catch {
        // not in this include dir
      }
    }
    // Well-known types (any.proto, duration.proto, ...) are built into protobufjs.
    return target;
  };
  root.loadSync([...PROTO_FILES, ...trellisProtoFiles()], { keepCase: true });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

/** The message type for a full name (`envoy.config.listener.v3.Listener`) or a type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  let t = typeCache.get(nameOrUrl);
  if (t) return t;
  const name = nameOrUrl.slice(nameOrUrl.lastIndexOf('/') + 1);
  try {
    t = protoRoot().lookupType(name);
  } catch {
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      `unknown protobuf message type ${JSON.stringify(nameOrUrl)}`,
    );
  }
  typeCache.set(nameOrUrl, t);
  return t;
}

/** Plain object in, protobuf bytes out. Unknown fields are errors, so typos cannot hide. */
export function encodeMessage(nameOrUrl: string, object: object): Uint8Array {
  const t = messageType(nameOrUrl);
  const message = t.fromObject(object);
  return t.encode(message).finish();
}

export const CONVERSION: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
};

export function decodeMessage<T = Record<string, unknown>>(nameOrUrl: string, bytes: Uint8Array): T {
  const t = messageType(nameOrUrl);
  return t.toObject(t.decode(bytes), CONVERSION) as T;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** The bytes are a Buffer, as decoding gives them, so a packed Any is also a decoded one. */
export function packAny(typeUrl: string, object: object): AnyMessage & { value: Buffer } {
  const bytes = encodeMessage(typeUrl, object);
  return { type_url: typeUrl, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** An Any as built (AnyMessage) or as decoded (fields optional: proto3 omits empty ones). */
export type AnyLike = { type_url?: string; value?: Uint8Array };

export function unpackAny<T = Record<string, unknown>>(any: AnyLike): T {
  // An Any holding an empty message decodes with no `value` at all (proto3 default omitted).
  return decodeMessage<T>(any.type_url ?? '', any.value ?? new Uint8Array(0));
}

/** Proto3 JSON (camelCase names, as Envoy's admin endpoints print) of an Any resource. */
export function anyToJson(any: AnyMessage): Record<string, unknown> {
  const t = messageType(any.type_url);
  const obj = t.toObject(t.decode(any.value), { ...CONVERSION, json: true }) as Record<string, unknown>;
  return { '@type': any.type_url, ...(camelize(obj) as Record<string, unknown>) };
}

function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())] = camelize(v);
    }
    return out;
  }
  return value;
}
