/**
 * Small builders for Envoy message fragments, as plain objects with proto field names
 * (snake_case) that protobufjs `fromObject` accepts. Wrapper types (UInt32Value, BoolValue)
 * are `{ value }`; Durations are `{ seconds, nanos }`; Any is `{ type_url, value }` from packAny.
 */
import { msToProtoDuration, parseDuration, type ProtoDuration } from '../../core/duration.js';
import { TrellisError } from '../../core/errors.js';
import { packAny, TYPE, type AnyMessage } from '../../protocol/protos.js';
import { unknownFields } from './strict-fields.js';

export type Json = Record<string, unknown>;

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
export function adsConfigSource(): Json {
  return { ads: {}, resource_api_version: 'V3' };
}

export function socketAddress(address: string, port: number): Json {
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

export function typedFilter(name: string, typeUrl: string, config: object): Json {
  return { name, typed_config: pack(typeUrl, config) };
}

export function routerFilter(): Json {
  return typedFilter(FILTER.router, TYPE.router, {});
}

export function faultFilter(): Json {
  return typedFilter(FILTER.fault, TYPE.fault, {});
}

export function corsFilter(): Json {
  return typedFilter(FILTER.cors, TYPE.cors, {});
}

/** A percentage as Envoy's FractionalPercent over a million, as Istio writes fault percentages. */
export function fractionalPercent(percent: number): Json {
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

/** RuntimeFractionalPercent for mirroring and the like. */
export function runtimeFraction(percent: number): Json {
  return { default_value: fractionalPercent(percent) };
}

let strict = false;

/** Tests turn this on: every packed message is then checked field by field (see strict-fields). */
export function setStrictPacking(on: boolean): void {
  strict = on;
}

export function pack(typeUrl: string, message: object): AnyMessage {
  if (strict) {
    const problems = unknownFields(typeUrl, message);
    if (problems.length > 0)
      throw new TrellisError('TRELLIS_INTERNAL', `generated ${typeUrl}: ${problems.join('; ')}`);
  }
  return packAny(typeUrl, message);
}
