/**
 * The Listener an xDS-enabled gRPC server (gRFC A36) serves one port with, in the shape of
 * Istio's grpcgen: one filter chain with no match (gRPC matches chains on little more than
 * addresses), an HTTP connection manager with an inline route configuration whose one route
 * takes every path with `non_forwarding_action` (the only action a server accepts; any other
 * makes it fail the call), the authorization filters, then the router, last as gRPC requires.
 * Under mTLS the chain carries the server's DownstreamTlsContext.
 */
import type {
  HttpConnectionManager,
  HttpFilter,
  Listener,
  RouteConfiguration,
} from '../../../protocol/envoy-types.js';
import { TYPE } from '../../../protocol/protos.js';
import { FILTER, pack, routerFilter, socketAddress } from '../envoy.js';
import type { ServerTransport } from './tls-mode.js';
import { serverMtlsTransportSocket } from './tls-context.js';

export interface ServerListenerInput {
  /** The name the server asked for (`xds.istio.io/grpc/lds/inbound/IP:PORT`). */
  name: string;
  /** The address and port in that name: the server checks that the Listener says the same. */
  address: string;
  port: number;
  transport: ServerTransport;
  /** HTTP filters before the router (RBAC from AuthorizationPolicy). */
  filters: readonly HttpFilter[];
}

/** Istio's inline route: every path, no forwarding. */
export function inboundRouteConfig(port: number): RouteConfiguration {
  return {
    name: 'inbound',
    virtual_hosts: [
      {
        name: `inbound|${port}`,
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }],
      },
    ],
  };
}

/**
 * Filter names made unique (`name`, `name.2`, ...): gRPC rejects a connection manager whose
 * filters share a name, and Istio's RBAC filters (DENY and ALLOW) may both be called
 * `envoy.filters.http.rbac`.
 */
export function uniqueFilterNames(filters: readonly HttpFilter[]): HttpFilter[] {
  const seen = new Map<string, number>();
  const taken = new Set(filters.map((f) => f.name ?? ''));
  return filters.map((f) => {
    const base = f.name ?? '';
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    if (count === 1) return f;
    let n = count;
    while (taken.has(`${base}.${n}`)) n++;
    taken.add(`${base}.${n}`);
    return { ...f, name: `${base}.${n}` };
  });
}

export function buildServerListener(input: ServerListenerInput): Listener {
  const mtls = input.transport === 'mtls';
  const chainName = mtls ? 'inbound-mtls' : 'inbound-plaintext';
  const hcm: HttpConnectionManager = {
    // The chain name in the stat prefix also keeps the connection manager of an mTLS chain
    // different from a plaintext one's. grpc-js-xds 1.14.1 compares a new Listener with the one
    // it serves by the filters first, then by the transport socket with an inverted null check
    // (server-listener.js filterChainsEquivalent): with equal filters, plaintext -> mTLS throws
    // (the update is lost) and mTLS -> plaintext is taken as no change.
    stat_prefix: `${chainName}_${input.address}_${input.port}`,
    route_config: inboundRouteConfig(input.port),
    http_filters: [...uniqueFilterNames(input.filters), routerFilter()],
  };
  return {
    name: input.name,
    address: socketAddress(input.address, input.port),
    traffic_direction: 'INBOUND',
    filter_chains: [
      {
        name: chainName,
        filters: [{ name: FILTER.hcm, typed_config: pack(TYPE.hcm, hcm) }],
        ...(mtls ? { transport_socket: serverMtlsTransportSocket() } : {}),
      },
    ],
  };
}
