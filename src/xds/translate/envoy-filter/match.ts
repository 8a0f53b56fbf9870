/**
 * The match predicates of EnvoyFilter patches (Istio's commonConditionMatch, listenerMatch,
 * filterChainMatch, routeConfigurationMatch, clusterMatch...), over canonical Envoy messages.
 */
import type { PatchContext } from '../../../api/networking/envoy-filter.js';
import { parseClusterName } from '../names.js';
import type { DecodedPatch } from './patches.js';
import { nameOf, type Obj } from './proto-merge.js';

/** Istio's deprecated filter names, matched as their current ones. */
const CANONICAL_NAMES: Readonly<Record<string, string>> = {
  'envoy.http_connection_manager': 'envoy.filters.network.http_connection_manager',
  'envoy.router': 'envoy.filters.http.router',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.lua': 'envoy.filters.http.lua',
  'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
  'envoy.rate_limit': 'envoy.filters.http.ratelimit',
  'envoy.ext_authz': 'envoy.filters.http.ext_authz',
};

export function canonicalName(name: string): string {
  return CANONICAL_NAMES[name] ?? name;
}

/** MERGE, or MERGE_AND_REPLACE_LIST (lists replace): the operations Istio merges with. */
export function isMergeOperation(patch: DecodedPatch): boolean {
  return patch.operation === 'MERGE' || patch.operation === 'MERGE_AND_REPLACE_LIST';
}

export function contextMatches(patch: DecodedPatch, context: PatchContext): boolean {
  return patch.context === 'ANY' || patch.context === context;
}

function portOf(listener: Obj): number | undefined {
  const sa = (listener.address as Obj | undefined)?.socket_address as Obj | undefined;
  return typeof sa?.port_value === 'number' ? sa.port_value : undefined;
}

export function listenerMatch(listener: Obj, patch: DecodedPatch): boolean {
  const m = patch.match.listener;
  if (m === undefined) return true;
  if (m.name !== undefined && m.name !== '' && m.name !== listener.name) return false;
  if (m.portNumber !== undefined && m.portNumber !== 0 && portOf(listener) !== m.portNumber) return false;
  return true;
}

/** A filter chain (Istio does not check here that the chain has the filter a match names). */
export function filterChainMatch(chain: Obj, patch: DecodedPatch): boolean {
  const m = patch.match.listener?.filterChain;
  if (m === undefined) return true;
  const fcm = (chain.filter_chain_match as Obj | undefined) ?? {};
  if (m.name !== undefined && m.name !== '' && m.name !== (chain.name ?? '')) return false;
  if (m.sni !== undefined && m.sni !== '') {
    const names = (fcm.server_names as string[] | undefined) ?? [];
    if (!names.includes(m.sni)) return false;
  }
  if (m.transportProtocol !== undefined && m.transportProtocol !== '') {
    if ((fcm.transport_protocol ?? '') !== m.transportProtocol) return false;
  }
  if (m.applicationProtocols !== undefined && m.applicationProtocols !== '') {
    const have = (fcm.application_protocols as string[] | undefined) ?? [];
    // Split as Istio splits, without trimming: `h2, http/1.1` asks for " http/1.1".
    for (const p of m.applicationProtocols.split(',')) if (!have.includes(p)) return false;
  }
  if (m.destinationPort !== undefined && m.destinationPort !== 0) {
    const port = (fcm.destination_port as Obj | undefined)?.value;
    if (port !== m.destinationPort) return false;
  }
  return true;
}

/** Whether the patch names a network filter (NETWORK_FILTER/HTTP_FILTER positions). */
export function hasNetworkFilterMatch(patch: DecodedPatch): boolean {
  const n = patch.match.listener?.filterChain?.filter?.name;
  return n !== undefined && n !== '';
}

export function networkFilterMatch(filter: Obj, patch: DecodedPatch): boolean {
  if (!hasNetworkFilterMatch(patch)) return true;
  return (
    canonicalName(nameOf(filter)) === canonicalName(patch.match.listener?.filterChain?.filter?.name ?? '')
  );
}

export function hasHttpFilterMatch(patch: DecodedPatch): boolean {
  const n = patch.match.listener?.filterChain?.filter?.subFilter?.name;
  return n !== undefined && n !== '';
}

export function httpFilterMatch(filter: Obj, patch: DecodedPatch): boolean {
  if (!hasHttpFilterMatch(patch)) return true;
  const want = patch.match.listener?.filterChain?.filter?.subFilter?.name ?? '';
  return canonicalName(nameOf(filter)) === canonicalName(want);
}

/**
 * Route configurations: sidecars match on the port (the RDS name is the port, an inbound one is
 * named like its cluster `inbound|PORT||`) and the name; gateways on the port of `http.PORT`
 * and the name. A gateway match on portName or gateway matches nothing yet (Trellis names
 * gateway routes by port alone).
 */
export function routeConfigurationMatch(rc: Obj, patch: DecodedPatch, context: PatchContext): boolean {
  const m = patch.match.routeConfiguration;
  if (m === undefined) return true;
  const name = nameOf(rc);
  if (m.name !== undefined && m.name !== '' && m.name !== name) return false;
  let port: number | undefined;
  if (context === 'GATEWAY') {
    if ((m.portName ?? '') !== '' || (m.gateway ?? '') !== '') return false;
    const p = /^https?\.(\d+)$/.exec(name);
    port = p ? Number(p[1]) : undefined;
  } else if (name.startsWith('inbound|')) {
    port = parseClusterName(name)?.port;
  } else {
    port = /^\d+$/.test(name) ? Number(name) : undefined;
  }
  if (m.portNumber !== undefined && m.portNumber !== 0 && port !== m.portNumber) return false;
  return true;
}

export function virtualHostMatch(vh: Obj, patch: DecodedPatch): boolean {
  const m = patch.match.routeConfiguration?.vhost;
  if (m === undefined) return true;
  if (m.name !== undefined && m.name !== '' && m.name !== vh.name) return false;
  const domain = m.domainName;
  if (domain !== undefined && domain !== '' && !((vh.domains as string[] | undefined) ?? []).includes(domain))
    return false;
  return true;
}

export function hasRouteMatch(patch: DecodedPatch): boolean {
  const r = patch.match.routeConfiguration?.vhost?.route;
  return r !== undefined && ((r.name ?? '') !== '' || (r.action ?? 'ANY') !== 'ANY');
}

export function routeMatch(route: Obj, patch: DecodedPatch): boolean {
  const m = patch.match.routeConfiguration?.vhost?.route;
  if (m === undefined) return true;
  if (m.name !== undefined && m.name !== '' && m.name !== route.name) return false;
  const action = m.action ?? 'ANY';
  if (action === 'ANY') return true;
  if (action === 'ROUTE') return route.route !== undefined;
  if (action === 'REDIRECT') return route.redirect !== undefined;
  return route.direct_response !== undefined;
}

export function clusterMatch(cluster: Obj, patch: DecodedPatch): boolean {
  const m = patch.match.cluster;
  if (m === undefined) return true;
  const name = nameOf(cluster);
  if (m.name !== undefined && m.name !== '') return m.name === name;
  const parsed = parseClusterName(name);
  if (m.subset !== undefined && m.subset !== '' && m.subset !== (parsed?.subset ?? '')) return false;
  if (m.service !== undefined && m.service !== '' && m.service !== (parsed?.host ?? '')) return false;
  if (m.portNumber !== undefined && m.portNumber !== 0 && m.portNumber !== parsed?.port) return false;
  return true;
}
