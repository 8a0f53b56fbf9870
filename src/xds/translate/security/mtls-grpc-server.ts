/**
 * Inbound listeners for proxyless gRPC servers (grpc-js-xds XdsServer, gRFC A36), Istio's
 * arrangement (pilot/pkg/networking/grpcgen/lds.go): the server asks for
 * `xds.istio.io/grpc/lds/inbound/IP:PORT` (its bootstrap's server_listener_resource_name_template)
 * and gets one filter chain: an HCM whose only route accepts every call (non_forwarding_action),
 * with mTLS (certificate provider `default`, client certificate required) when the port is STRICT.
 *
 * gRPC servers cannot tell mTLS from plaintext on one port, so PERMISSIVE becomes STRICT for a
 * workload labelled `security.istio.io/tlsMode: istio` (clients reach it with auto mTLS) and
 * DISABLE otherwise, as Istio decides. A port none of the server's registered instances listens
 * on gets no listener (the server then never starts serving it), as in Istio.
 */
import type { DownstreamTlsContext, FilterChain, Listener } from '../../../protocol/envoy-types.js';
import { TYPE } from '../../../protocol/protos.js';
import type { ProxyNode } from '../../proxy-node.js';
import { FILTER, pack, routerFilter, socketAddress } from '../envoy.js';
import { splitHostPort } from '../names.js';
import type { PushContext } from '../push-context.js';
import { TLS_MODE_ISTIO, TLS_MODE_LABEL } from './mtls-auto.js';
import { GRPC_CERTIFICATE_PROVIDER } from './mtls-grpc.js';
import { SDS_ROOT_CA, SDS_WORKLOAD_CERT } from './mtls.js';
import { modeForPort, proxyPeerAuthentication, type EffectiveMtlsMode } from './peer-authn.js';

/** Istio's server listener name prefix (grpcxds.ServerListenerNamePrefix). */
export const GRPC_SERVER_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';

/** Istio's decision for a gRPC server port: no PERMISSIVE, see the module comment. */
export function grpcServerMode(
  mode: EffectiveMtlsMode,
  labels: Readonly<Record<string, string>>,
): 'STRICT' | 'DISABLE' {
  if (mode === 'PERMISSIVE') return labels[TLS_MODE_LABEL] === TLS_MODE_ISTIO ? 'STRICT' : 'DISABLE';
  return mode;
}

function serverTlsContext(): DownstreamTlsContext {
  return {
    common_tls_context: {
      tls_certificate_provider_instance: {
        instance_name: GRPC_CERTIFICATE_PROVIDER,
        certificate_name: SDS_WORKLOAD_CERT,
      },
      validation_context: {
        ca_certificate_provider_instance: {
          instance_name: GRPC_CERTIFICATE_PROVIDER,
          certificate_name: SDS_ROOT_CA,
        },
      },
    },
    require_client_certificate: { value: true },
  };
}

export function grpcServerListener(
  name: string,
  host: string,
  port: number,
  mode: 'STRICT' | 'DISABLE',
): Listener {
  const hcm = {
    // The mode in the stat prefix is load-bearing: grpc-js-xds (1.14) decides whether a new
    // listener differs from the one it serves by its filters' bytes and matches; its transport
    // socket comparison cannot see a socket added or removed, so a STRICT <-> DISABLE change
    // that left the HCM byte-identical would never be applied.
    stat_prefix: `inbound_${mode === 'STRICT' ? 'mtls' : 'plaintext'}_${port}`,
    route_config: {
      name: `inbound|${port}`,
      virtual_hosts: [
        {
          name: `inbound|grpc|${port}`,
          domains: ['*'],
          routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }],
        },
      ],
    },
    http_filters: [routerFilter()],
  };
  const chain: FilterChain = {
    name: mode === 'STRICT' ? 'inbound-mtls' : 'inbound-plaintext',
    filters: [{ name: FILTER.hcm, typed_config: pack(TYPE.hcm, hcm) }],
  };
  if (mode === 'STRICT')
    chain.transport_socket = { name: FILTER.tls, typed_config: pack(TYPE.downstreamTls, serverTlsContext()) };
  // No listener_filters and no use_original_dst: gRPC NACKs either.
  return { name, address: socketAddress(host, port), filter_chains: [chain] };
}

/**
 * The ports a proxyless server's registered instances listen on (their target ports), and the
 * mTLS mode of each: everything its inbound listeners read, for the LDS key.
 */
export function grpcServerPorts(
  push: PushContext,
  proxy: ProxyNode,
): ReadonlyMap<number, 'STRICT' | 'DISABLE'> {
  const merged = proxyPeerAuthentication(push, proxy).merged;
  const out = new Map<number, 'STRICT' | 'DISABLE'>();
  for (const ep of push.index.instancesAt(proxy.ipAddresses)) {
    for (const p of push.index.service(ep.hostname)?.ports ?? []) {
      const target = ep.ports[p.name] ?? p.targetPort ?? p.number;
      out.set(target, grpcServerMode(modeForPort(merged, target), proxy.labels));
    }
  }
  return out;
}

export function grpcServerPortsKey(ports: ReadonlyMap<number, string>): string {
  return [...ports]
    .sort((a, b) => a[0] - b[0])
    .map(([p, m]) => `${p}=${m}`)
    .join(',');
}

/** The listener for a requested server listener name; undefined for a port it does not serve. */
export function grpcServerInboundListener(
  name: string,
  ports: ReadonlyMap<number, 'STRICT' | 'DISABLE'>,
): Listener | undefined {
  const hp = splitHostPort(name.slice(GRPC_SERVER_LISTENER_PREFIX.length));
  const mode = hp === undefined ? undefined : ports.get(hp.port);
  if (hp === undefined || mode === undefined) return undefined;
  return grpcServerListener(name, hp.host, hp.port, mode);
}
