/**
 * What a sidecar's inbound listener accepts, per PeerAuthentication mode, in Istio's filter
 * chain shapes (pilot/pkg/networking/core/filterchain_options.go, explicitly declared HTTP and
 * TCP ports):
 *
 * - STRICT: one chain matching `transport_protocol: tls`, terminating mTLS. A plaintext
 *   connection matches no chain and is closed; a TLS client without a mesh certificate fails
 *   the handshake.
 * - PERMISSIVE: the TLS inspector tells the two apart: mTLS from mesh clients (TLS carrying one
 *   of Istio's ALPN values) is terminated; plaintext (`raw_buffer`) is served as is. TCP ports
 *   also pass other TLS (a client's own end-to-end TLS) through untouched, as Istio does.
 * - DISABLE: plaintext only, one chain with no match (as before mTLS existed).
 *
 * Every chain carries the very same network filters the plaintext listener was built with
 * (authorization filters included), so what is enforced does not depend on the chain taken.
 */
import type { FilterChain, Listener, NetworkFilter } from '../../../protocol/envoy-types.js';

type ListenerFilter = NonNullable<Listener['listener_filters']>[number];
import { TrellisError } from '../../../core/errors.js';
import { TYPE } from '../../../protocol/protos.js';
import { pack } from '../envoy.js';
import { ALPN, inboundMtlsSocket } from './mtls.js';
import type { EffectiveMtlsMode } from './peer-authn.js';

export const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';

export function tlsInspector(): ListenerFilter {
  return { name: TLS_INSPECTOR, typed_config: pack(TYPE.tlsInspector, {}) };
}

function chains(mode: EffectiveMtlsMode, http: boolean, filters: readonly NetworkFilter[]): FilterChain[] {
  const mtls = (applicationProtocols?: readonly string[]): FilterChain => ({
    filter_chain_match: {
      transport_protocol: 'tls',
      ...(applicationProtocols ? { application_protocols: [...applicationProtocols] } : {}),
    },
    filters: [...filters],
    transport_socket: inboundMtlsSocket(http),
  });
  const plain = (transport: 'tls' | 'raw_buffer'): FilterChain => ({
    filter_chain_match: { transport_protocol: transport },
    filters: [...filters],
  });
  switch (mode) {
    case 'STRICT':
      return [mtls()];
    case 'PERMISSIVE':
      return http
        ? [mtls(ALPN.allIstioMtls), plain('raw_buffer')]
        : [mtls(ALPN.allIstioMtls), plain('tls'), plain('raw_buffer')];
    case 'DISABLE':
      return [{ filters: [...filters] }];
  }
}

/**
 * The inbound listener `plaintext` (one chain, no match, as listener.ts builds it) secured for
 * `mode`: its chain's filters are reused for every chain of the mode's shape.
 */
export function securedInboundListener(
  plaintext: Listener,
  mode: EffectiveMtlsMode,
  http: boolean,
): Listener {
  if (mode === 'DISABLE') return plaintext;
  const only = plaintext.filter_chains ?? [];
  if (
    only.length !== 1 ||
    only[0]?.filter_chain_match !== undefined ||
    only[0]?.transport_socket !== undefined
  ) {
    // A listener shape this module was not written for: securing it by guesswork could open it.
    throw new TrellisError(
      'TRELLIS_INTERNAL',
      `inbound listener ${plaintext.name ?? ''}: expected exactly one plain filter chain`,
    );
  }
  return {
    ...plaintext,
    listener_filters: [...(plaintext.listener_filters ?? []), tlsInspector()],
    filter_chains: chains(mode, http, only[0]?.filters ?? []),
  };
}
