/**
 * LISTENER, FILTER_CHAIN, NETWORK_FILTER and HTTP_FILTER patches on a proxy's listeners, in
 * Istio's order (listener_patch.go): per listener REMOVE/MERGE, then per filter chain
 * REMOVE/MERGE and its network filters (ADD/INSERT_BEFORE/AFTER/FIRST/REPLACE/REMOVE, then MERGE per filter, and
 * inside an HTTP connection manager the same for its HTTP filters), then FILTER_CHAIN ADDs; then
 * LISTENER ADDs. A filter MERGE with a typed config of the same type merges the two configs; of
 * another type it keeps the filter's own (Istio's MergeAnyWithAny).
 *
 * Inbound HTTP listeners carry their route configuration inline: route-class patches apply to
 * it (context SIDECAR_INBOUND) before the listener's own patches, as Istio patches the inbound
 * route configuration while building the connection manager.
 */
import type { PatchContext } from '../../../api/networking/envoy-filter.js';
import { TYPE } from '../../../protocol/protos.js';
import {
  canonicalName,
  contextMatches,
  filterChainMatch,
  hasHttpFilterMatch,
  hasNetworkFilterMatch,
  httpFilterMatch,
  isMergeOperation,
  listenerMatch,
  networkFilterMatch,
} from './match.js';
import type { DecodedPatch } from './patches.js';
import { applyListPatch } from './positional.js';
import { patchRouteConfiguration } from './apply-route.js';
import { nameOf, mergeAny, mergeMessage, pack, unpack, type Obj } from './proto-merge.js';

const LISTENER = 'envoy.config.listener.v3.Listener';
const FILTER_CHAIN = 'envoy.config.listener.v3.FilterChain';
const HCM_NAME = 'envoy.filters.network.http_connection_manager';

export type ContextOf = (listener: Obj) => PatchContext;

/**
 * Every listener (canonical, by name) patched; names of removed listeners are gone, added ones
 * appear. `contextOf` tells a listener's patch context (inbound, outbound, gateway);
 * `addContexts`: the contexts this proxy builds listeners for (ADD patches of other contexts
 * add nothing).
 */
export function patchListeners(
  listeners: readonly Obj[],
  patches: readonly DecodedPatch[],
  contextOf: ContextOf,
  addContexts: readonly PatchContext[],
): Obj[] {
  const out: Obj[] = [];
  for (const l of listeners) {
    const patched = patchListener(l, patches, contextOf(l));
    if (patched !== undefined) out.push(patched);
  }
  for (const p of patches) {
    if (p.applyTo !== 'LISTENER' || p.operation !== 'ADD') continue;
    // Without a context, Istio adds listeners for sidecar outbound and gateways only.
    const contexts = p.context === 'ANY' ? addContexts.filter((c) => c !== 'SIDECAR_INBOUND') : [p.context];
    if (contexts.some((c) => addContexts.includes(c))) out.push(p.value);
  }
  return out;
}

function patchListener(
  listener: Obj,
  patches: readonly DecodedPatch[],
  context: PatchContext,
): Obj | undefined {
  const mine = patches.filter((p) => contextMatches(p, context));
  let l = context === 'SIDECAR_INBOUND' ? patchInlineRoutes(listener, mine) : listener;
  for (const p of mine) {
    if (p.applyTo !== 'LISTENER' || !listenerMatch(l, p)) continue;
    if (p.operation === 'REMOVE') return undefined;
    if (isMergeOperation(p)) l = mergeMessage(LISTENER, l, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
  }
  const chainPatches = mine.filter(
    (p) =>
      (p.applyTo === 'FILTER_CHAIN' || p.applyTo === 'NETWORK_FILTER' || p.applyTo === 'HTTP_FILTER') &&
      listenerMatch(l, p),
  );
  if (chainPatches.length === 0) return l;
  const chains: Obj[] = [];
  for (const fc of (l.filter_chains as Obj[] | undefined) ?? []) {
    const patched = patchFilterChain(fc, chainPatches);
    if (patched !== undefined) chains.push(patched);
  }
  let defaultChain = l.default_filter_chain as Obj | undefined;
  if (defaultChain !== undefined) defaultChain = patchFilterChain(defaultChain, chainPatches);
  for (const p of chainPatches)
    if (p.applyTo === 'FILTER_CHAIN' && p.operation === 'ADD') chains.push(p.value);
  const next: Obj = { ...l, filter_chains: chains };
  if (defaultChain === undefined) delete next.default_filter_chain;
  else next.default_filter_chain = defaultChain;
  return next;
}

function patchFilterChain(chain: Obj, patches: readonly DecodedPatch[]): Obj | undefined {
  const mine = patches.filter((p) => filterChainMatch(chain, p));
  let fc = chain;
  for (const p of mine) {
    if (p.applyTo !== 'FILTER_CHAIN') continue;
    if (p.operation === 'REMOVE') return undefined;
    if (isMergeOperation(p)) fc = mergeFilterChain(fc, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
  }
  let filters = (fc.filters as Obj[] | undefined) ?? [];
  for (const p of mine) {
    if (p.applyTo !== 'NETWORK_FILTER' || p.operation === 'MERGE') continue;
    filters = applyListPatch(filters, {
      operation: p.operation,
      value: p.value,
      hasMatch: hasNetworkFilterMatch(p),
      matches: (f) => networkFilterMatch(f, p),
    });
  }
  filters = filters.map((f) => {
    let out = f;
    for (const p of mine) {
      if (p.applyTo === 'NETWORK_FILTER' && p.operation === 'MERGE' && networkFilterMatch(out, p))
        out = mergeFilter(out, p.value);
    }
    return canonicalName(nameOf(out)) === HCM_NAME ? patchHttpFilters(out, mine) : out;
  });
  return { ...fc, filters };
}

/** Istio merges a filter chain's transport socket config of the same name into the chain's own. */
function mergeFilterChain(fc: Obj, value: Obj, replaceList: boolean): Obj {
  const ts = value.transport_socket as Obj | undefined;
  const own = fc.transport_socket as Obj | undefined;
  if (ts === undefined) return mergeMessage(FILTER_CHAIN, fc, value, replaceList);
  if (
    own === undefined ||
    own.name !== ts.name ||
    own.typed_config === undefined ||
    ts.typed_config === undefined
  )
    return { ...fc, transport_socket: ts };
  const merged = mergeAny(own.typed_config as Obj, ts.typed_config as Obj);
  return merged === undefined ? fc : { ...fc, transport_socket: { ...own, typed_config: merged } };
}

/** A filter (network or HTTP) MERGE: the name may change; same-type typed configs merge. */
function mergeFilter(filter: Obj, value: Obj): Obj {
  if (filter.typed_config === undefined) return filter;
  const name = typeof value.name === 'string' && value.name !== '' ? value.name : filter.name;
  const merged =
    value.typed_config === undefined
      ? undefined
      : mergeAny(filter.typed_config as Obj, value.typed_config as Obj);
  return { ...filter, name, ...(merged !== undefined ? { typed_config: merged } : {}) };
}

function patchHttpFilters(filter: Obj, patches: readonly DecodedPatch[]): Obj {
  const mine = patches.filter((p) => p.applyTo === 'HTTP_FILTER' && networkFilterMatch(filter, p));
  const any = filter.typed_config as Obj | undefined;
  if (mine.length === 0 || any === undefined || any.type_url !== TYPE.hcm) return filter;
  const hcm = unpack(any).message;
  let list = (hcm.http_filters as Obj[] | undefined) ?? [];
  for (const p of mine) {
    if (p.operation === 'MERGE') continue;
    list = applyListPatch(list, {
      operation: p.operation,
      value: p.value,
      hasMatch: hasHttpFilterMatch(p),
      matches: (f) => httpFilterMatch(f, p),
    });
  }
  list = list.map((f) => {
    let out = f;
    for (const p of mine)
      if (p.operation === 'MERGE' && httpFilterMatch(out, p)) out = mergeFilter(out, p.value);
    return out;
  });
  return { ...filter, typed_config: pack(TYPE.hcm, { ...hcm, http_filters: list }) };
}

/** Route-class patches on the inline route configurations of an inbound listener's HCMs. */
function patchInlineRoutes(listener: Obj, patches: readonly DecodedPatch[]): Obj {
  const routePatches = patches.filter(
    (p) => p.applyTo === 'ROUTE_CONFIGURATION' || p.applyTo === 'VIRTUAL_HOST' || p.applyTo === 'HTTP_ROUTE',
  );
  if (routePatches.length === 0) return listener;
  const chains = ((listener.filter_chains as Obj[] | undefined) ?? []).map((fc) => ({
    ...fc,
    filters: ((fc.filters as Obj[] | undefined) ?? []).map((f) => {
      const any = f.typed_config as Obj | undefined;
      if (any === undefined || any.type_url !== TYPE.hcm) return f;
      const hcm = unpack(any).message;
      const rc = hcm.route_config as Obj | undefined;
      if (rc === undefined) return f;
      const patched = patchRouteConfiguration(rc, routePatches, 'SIDECAR_INBOUND');
      return patched === rc ? f : { ...f, typed_config: pack(TYPE.hcm, { ...hcm, route_config: patched }) };
    }),
  }));
  return { ...listener, filter_chains: chains };
}
