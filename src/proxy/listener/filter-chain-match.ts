/**
 * Envoy's filter chain selection for what the TLS inspector learned, for the criteria the proxy
 * accepts (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto#config-listener-v3-filterchainmatch):
 * each criterion narrows the candidates in order, the most specific value winning and chains
 * that leave the criterion unset kept only when none is more specific:
 *
 *   0. destination_port: the port the connection arrived on, else chains without one;
 *   1. server_names: the exact SNI, else the longest `*.suffix` wildcard matching it
 *      (`a.b.example.com` tries `*.b.example.com`, then `*.example.com`, then `*.com`), else
 *      chains without server_names;
 *   2. transport_protocol: `tls` or `raw_buffer` as inspected, else chains without one;
 *   3. application_protocols: the first ALPN value the ClientHello offers that some chain lists
 *      (Istio's `istio-peer-exchange`, `istio`, `istio-http/1.1`...), else chains without any.
 *
 * No chain left means Envoy closes the connection. Pure; table-tested.
 */
import type { FilterChainConfig } from '../model/config.js';

export interface ConnectionFacts {
  destinationPort?: number;
  /** SNI from the ClientHello (lower case); undefined when none was sent or not TLS. */
  serverName?: string;
  transportProtocol: 'tls' | 'raw_buffer';
  /** ALPN protocols the ClientHello offers, in its order; empty when none or not TLS. */
  applicationProtocols?: readonly string[];
}

/** `a.b.example.com` -> [`a.b.example.com`, `*.b.example.com`, `*.example.com`, `*.com`]. */
function sniCandidates(name: string): string[] {
  const out = [name];
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1))
    out.push(`*${name.slice(dot)}`);
  return out;
}

function byServerName<C extends FilterChainConfig>(
  chains: readonly C[],
  serverName: string | undefined,
): C[] {
  if (serverName !== undefined) {
    for (const candidate of sniCandidates(serverName)) {
      const hits = chains.filter((c) => c.serverNames?.includes(candidate) === true);
      if (hits.length > 0) return hits;
    }
  }
  return chains.filter((c) => (c.serverNames ?? []).length === 0);
}

function byPort<C extends FilterChainConfig>(chains: readonly C[], port: number | undefined): C[] {
  const exact = port === undefined ? [] : chains.filter((c) => c.destinationPort === port);
  return exact.length > 0 ? exact : chains.filter((c) => c.destinationPort === undefined);
}

function byTransport<C extends FilterChainConfig>(chains: readonly C[], transport: string): C[] {
  const exact = chains.filter((c) => c.transportProtocol === transport);
  return exact.length > 0 ? exact : chains.filter((c) => c.transportProtocol === undefined);
}

function byApplicationProtocols<C extends FilterChainConfig>(
  chains: readonly C[],
  offered: readonly string[],
): C[] {
  for (const protocol of offered) {
    const hits = chains.filter((c) => c.applicationProtocols?.includes(protocol) === true);
    if (hits.length > 0) return hits;
  }
  return chains.filter((c) => (c.applicationProtocols ?? []).length === 0);
}

/** The chain a connection is handed to, or undefined (Envoy: no matching filter chain). */
export function selectFilterChain<C extends FilterChainConfig>(
  chains: readonly C[],
  facts: ConnectionFacts,
): C | undefined {
  const onPort = byPort(chains, facts.destinationPort);
  const byTls = byTransport(byServerName(onPort, facts.serverName), facts.transportProtocol);
  return byApplicationProtocols(byTls, facts.applicationProtocols ?? [])[0];
}
