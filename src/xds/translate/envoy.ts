/**
 * Small builders for Envoy message fragments, typed with the messages generated from Envoy's
 * protos (src/protocol/envoy-types.ts): plain objects with proto field names (snake_case) that
 * protobufjs `fromObject` accepts, so a misspelt field or enum name is a compile error. Wrapper
 * types (UInt32Value, BoolValue) are `{ value }`; Durations are `{ seconds, nanos }`; Any is
 * `{ type_url, value }` from pack, which types the packed message by its type URL.
 */
import { msToProtoDuration, parseDuration, type ProtoDuration } from '../../core/duration.js';
import type {
  Address,
  ConfigSource,
  FractionalPercent,
  HttpFilter,
  PackedMessages,
  PackedTypeUrl,
  RuntimeFractionalPercent,
} from '../../protocol/envoy-types.js';
import { packAny, TYPE, type AnyMessage } from '../../protocol/protos.js';

export function wrapU32(value: number): { value: number } {
  return { value };
}

export function durationOf(istio: string, path = ''): ProtoDuration {
  return msToProtoDuration(parseDuration(istio, path));
}

export function durationMs(ms: number): ProtoDuration {
  return msToProtoDuration(ms);
}

/** `{ ads: {} }`: the aggregated stream every Trellis data plane uses. */
export function adsConfigSource(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** Envoy's well-known filter names, as Istio writes them. */
export const FILTER = {
  hcm: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  router: 'envoy.filters.http.router',
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
  localRateLimit: 'envoy.filters.http.local_ratelimit',
  rateLimit: 'envoy.filters.http.ratelimit',
  tls: 'envoy.transport_sockets.tls',
  http2Options: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

export function typedFilter<U extends PackedTypeUrl>(
  name: string,
  typeUrl: U,
  config: PackedMessages[U],
): HttpFilter {
  return { name, typed_config: pack(typeUrl, config) };
}

export function routerFilter(): HttpFilter {
  return typedFilter(FILTER.router, TYPE.router, {});
}

export function faultFilter(): HttpFilter {
  return typedFilter(FILTER.fault, TYPE.fault, {});
}

export function corsFilter(): HttpFilter {
  return typedFilter(FILTER.cors, TYPE.cors, {});
}

/** A percentage as Envoy's FractionalPercent over a million, as Istio writes fault percentages. */
export function fractionalPercent(percent: number): FractionalPercent {
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

/** RuntimeFractionalPercent for mirroring and the like. */
export function runtimeFraction(percent: number): RuntimeFractionalPercent {
  return { default_value: fractionalPercent(percent) };
}

/** An Any of the message `typeUrl` names; the message's type follows from the URL. */
export function pack<U extends PackedTypeUrl>(typeUrl: U, message: PackedMessages[U]): AnyMessage {
  return packAny(typeUrl, message);
}
