/**
 * CLUSTER patches (cluster_patch.go): per cluster REMOVE or MERGE (a transport socket of the
 * same name merges its config into the cluster's; another one replaces it), then ADDs. An ADD
 * without a context adds for sidecar outbound and gateways only.
 */
import type { PatchContext } from '../../../api/networking/envoy-filter.js';
import { clusterMatch, contextMatches, isMergeOperation } from './match.js';
import type { DecodedPatch } from './patches.js';
import { mergeAny, mergeMessage, type Obj } from './proto-merge.js';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';

export function patchClusters(
  clusters: readonly Obj[],
  patches: readonly DecodedPatch[],
  contextOf: (cluster: Obj) => PatchContext,
  addContexts: readonly PatchContext[],
): Obj[] {
  const mine = patches.filter((p) => p.applyTo === 'CLUSTER');
  if (mine.length === 0) return [...clusters];
  const out: Obj[] = [];
  for (const original of clusters) {
    const context = contextOf(original);
    let c: Obj | undefined = original;
    for (const p of mine) {
      if (c === undefined || !contextMatches(p, context) || !clusterMatch(c, p)) continue;
      if (p.operation === 'REMOVE') c = undefined;
      else if (isMergeOperation(p)) c = mergeCluster(c, p.value, p.operation === 'MERGE_AND_REPLACE_LIST');
    }
    if (c !== undefined) out.push(c);
  }
  for (const p of mine) {
    if (p.operation !== 'ADD') continue;
    const contexts = p.context === 'ANY' ? addContexts.filter((c) => c !== 'SIDECAR_INBOUND') : [p.context];
    if (contexts.some((c) => addContexts.includes(c))) out.push(p.value);
  }
  return out;
}

function mergeCluster(c: Obj, value: Obj, replaceList: boolean): Obj {
  const ts = value.transport_socket as Obj | undefined;
  if (ts === undefined) return mergeMessage(CLUSTER, c, value, replaceList);
  const matches = (c.transport_socket_matches as Obj[] | undefined) ?? [];
  if (matches.length > 0) {
    const i = matches.findIndex((m) => (m.transport_socket as Obj | undefined)?.name === ts.name);
    // Merging would leave both transport_socket and its matches: Istio drops the patch.
    if (i < 0) return c;
    const own = matches[i]?.transport_socket as Obj;
    const merged = mergeTypedConfig(own, ts);
    return merged === undefined
      ? c
      : {
          ...c,
          transport_socket_matches: matches.map((m, j) => (j === i ? { ...m, transport_socket: merged } : m)),
        };
  }
  const own = c.transport_socket as Obj | undefined;
  if (own === undefined || own.name !== ts.name) return { ...c, transport_socket: ts };
  const merged = mergeTypedConfig(own, ts);
  return merged === undefined ? c : { ...c, transport_socket: merged };
}

function mergeTypedConfig(own: Obj, patch: Obj): Obj | undefined {
  if (own.typed_config === undefined || patch.typed_config === undefined) return own;
  const merged = mergeAny(own.typed_config as Obj, patch.typed_config as Obj);
  return merged === undefined ? undefined : { ...own, typed_config: merged };
}
