/**
 * gRPC service definitions built from the protobufjs root in ./protos.ts, so the protos are
 * parsed once. Messages cross the wire as snake_case plain objects; `google.protobuf.Any`
 * fields stay `{ type_url, value }` and are unpacked by the caller only when needed.
 */
import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { CONVERSION, protoRoot } from './protos.js';

/**
 * A message already encoded (the ADS server pre-encodes DiscoveryResponses it shares between
 * proxies) passes through as is; objects are encoded. protobufjs returns a Buffer under Node,
 * so no copy is made in either case.
 */
function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    const bytes = value instanceof Uint8Array ? value : type.encode(type.fromObject(value)).finish();
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION);
}

function service(fullName: string): ServiceDefinition {
  const svc = protoRoot().lookupService(fullName);
  const def: Record<string, MethodDefinition<object, object>> = {};
  for (const method of svc.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType as protobuf.Type;
    const res = method.resolvedResponseType as protobuf.Type;
    def[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: method.name,
    };
  }
  return def;
}

let ads: ServiceDefinition | undefined;
let rls: ServiceDefinition | undefined;

/** envoy.service.discovery.v3.AggregatedDiscoveryService (StreamAggregatedResources, DeltaAggregatedResources). */
export function adsService(): ServiceDefinition {
  ads ??= service('envoy.service.discovery.v3.AggregatedDiscoveryService');
  return ads;
}

/** envoy.service.ratelimit.v3.RateLimitService (ShouldRateLimit). */
export function rateLimitService(): ServiceDefinition {
  rls ??= service('envoy.service.ratelimit.v3.RateLimitService');
  return rls;
}

let ca: ServiceDefinition | undefined;

/** trellis.ca.v1.CertificateService (CreateCertificate): the control plane's CA (trellis/ca.proto). */
export function certificateService(): ServiceDefinition {
  ca ??= service('trellis.ca.v1.CertificateService');
  return ca;
}

let sds: ServiceDefinition | undefined;

/** envoy.service.secret.v3.SecretDiscoveryService (StreamSecrets, DeltaSecrets, FetchSecrets): the agent's SDS. */
export function secretDiscoveryService(): ServiceDefinition {
  sds ??= service('envoy.service.secret.v3.SecretDiscoveryService');
  return sds;
}
