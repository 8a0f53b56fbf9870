/**
 * PeerAuthentication selection, as Istio composes it (pilot/pkg/model/authentication.go and
 * pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication):
 *
 * - levels: a policy in the root namespace without a selector is the mesh policy; one in another
 *   namespace without a selector is that namespace's policy; one with `selector.matchLabels` (not
 *   in the root namespace) is a workload policy for the workloads it selects. A selector policy
 *   in the root namespace applies to nobody (Istio ignores it);
 * - within a level the oldest policy wins (creationTimestamp, then namespace/name);
 * - the narrowest level that sets a mode wins; UNSET (or no `mtls`) inherits from the level
 *   above; with nothing set the mode is PERMISSIVE;
 * - `portLevelMtls` is read from the workload policy only, keyed by the workload's (target)
 *   port; an UNSET port inherits the workload's mode.
 *
 * Pure: no translation, no Envoy types; the listener builder asks `modeForPort`.
 */
import type { Resource } from '../../../api/resource.js';
import type { MutualTLSMode, PeerAuthenticationSpec } from '../../../api/security/types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { digest, fingerprint } from '../memo.js';
import type { PushContext } from '../push-context.js';
import { byCreation, labelsMatch, type Labels } from '../selectors.js';

export const PEER_AUTHENTICATION_KIND = 'PeerAuthentication';

export type PeerAuthenticationResource = Resource<PeerAuthenticationSpec>;

/** A resolved mode: UNSET never survives composition. */
export type EffectiveMtlsMode = Exclude<MutualTLSMode, 'UNSET'>;

/** Istio's mode when no policy sets one. */
export const DEFAULT_MTLS_MODE: EffectiveMtlsMode = 'PERMISSIVE';

/**
 * What composition takes from the mesh: its root namespace, and the mode when no policy sets
 * one (PERMISSIVE as in Istio; a mesh whose workloads have no certificates, e.g. a control
 * plane without a CA, uses DISABLE so that only an explicit policy asks for mTLS).
 */
export interface MeshMtlsDefaults {
  rootNamespace: string;
  defaultMode: EffectiveMtlsMode;
}

export interface MergedPeerAuthentication {
  /** The workload's mode, for every port `perPort` does not name. */
  readonly mode: EffectiveMtlsMode;
  /** Workload-policy port overrides, by target port. */
  readonly perPort: ReadonlyMap<number, EffectiveMtlsMode>;
}

/** The policies composed for one workload (at most one per level) and their result. */
export interface WorkloadPeerAuthentication {
  readonly mesh: PeerAuthenticationResource | undefined;
  readonly namespace: PeerAuthenticationResource | undefined;
  readonly workload: PeerAuthenticationResource | undefined;
  readonly merged: MergedPeerAuthentication;
  /**
   * `ns/name` of each applied policy and the merged modes: what LDS output depends on. Equal
   * keys mean equal inbound security.
   */
  readonly key: string;
}

/**
 * A policy's own mode; undefined when it inherits. Validation admits only Istio's four values;
 * anything else that reaches here anyway (a store that skipped validation) fails closed as
 * STRICT rather than opening a port.
 */
function explicitMode(mode: MutualTLSMode | undefined): EffectiveMtlsMode | undefined {
  if (mode === undefined || mode === 'UNSET') return undefined;
  return mode === 'DISABLE' || mode === 'PERMISSIVE' ? mode : 'STRICT';
}

function hasSelector(p: PeerAuthenticationResource): boolean {
  return Object.keys(p.spec.selector?.matchLabels ?? {}).length > 0;
}

/** The first (oldest) of `list`, which must already be sorted by byCreation. */
function oldest<T>(list: readonly T[]): T | undefined {
  return list[0];
}

/**
 * Composes the policies applying to one workload. `configs` may hold any number of policies of
 * each level (the oldest of each wins); selector policies must already match the workload.
 */
export function composePeerAuthentication(
  rootNamespace: string,
  configs: readonly PeerAuthenticationResource[],
  defaultMode: EffectiveMtlsMode = DEFAULT_MTLS_MODE,
): Omit<WorkloadPeerAuthentication, 'key'> {
  const sorted = [...configs].sort(byCreation);
  const mesh = oldest(sorted.filter((c) => !hasSelector(c) && c.metadata.namespace === rootNamespace));
  const namespace = oldest(sorted.filter((c) => !hasSelector(c) && c.metadata.namespace !== rootNamespace));
  const workload = oldest(sorted.filter((c) => hasSelector(c) && c.metadata.namespace !== rootNamespace));
  let mode: EffectiveMtlsMode = defaultMode;
  for (const level of [mesh, namespace, workload]) mode = explicitMode(level?.spec.mtls?.mode) ?? mode;
  const perPort = new Map<number, EffectiveMtlsMode>();
  for (const [port, mtls] of Object.entries(workload?.spec.portLevelMtls ?? {})) {
    perPort.set(Number(port), explicitMode(mtls?.mode) ?? mode);
  }
  return { mesh, namespace, workload, merged: { mode, perPort } };
}

/** Istio's GetMutualTLSModeForPort: the port's own setting, else the workload's. */
export function modeForPort(merged: MergedPeerAuthentication, targetPort: number): EffectiveMtlsMode {
  return merged.perPort.get(targetPort) ?? merged.mode;
}

function ref(p: PeerAuthenticationResource | undefined): string {
  return p === undefined ? '-' : `${p.metadata.namespace}/${p.metadata.name}`;
}

function mergedKey(m: MergedPeerAuthentication): string {
  const ports = [...m.perPort].sort((a, b) => a[0] - b[0]).map(([p, mode]) => `${p}=${mode}`);
  return [m.mode, ...ports].join(',');
}

/**
 * Every PeerAuthentication of a push, by namespace, oldest first. Built once per change of the
 * PeerAuthentication list (see PushIndex); answers per workload and per namespace.
 */
export class PeerAuthenticationIndex {
  /** Fingerprint of every policy: results reading "all policies" put it in their keys. */
  readonly fingerprint: string;
  private readonly byNamespace = new Map<string, PeerAuthenticationResource[]>();

  constructor(readonly source: readonly Resource[]) {
    const sorted = [...(source as PeerAuthenticationResource[])].sort(byCreation);
    this.fingerprint = digest(sorted.map(fingerprint).join(','));
    for (const p of sorted) {
      let list = this.byNamespace.get(p.metadata.namespace);
      if (list === undefined) this.byNamespace.set(p.metadata.namespace, (list = []));
      list.push(p);
    }
  }

  /** Every policy, oldest first. */
  get all(): readonly PeerAuthenticationResource[] {
    return [...this.byNamespace.values()].flat().sort(byCreation);
  }

  /** The policies of the workload's namespace and the root namespace that select it. */
  candidates(rootNamespace: string, namespace: string, labels: Labels): PeerAuthenticationResource[] {
    const namespaces = namespace === rootNamespace ? [namespace] : [namespace, rootNamespace];
    return namespaces.flatMap((ns) =>
      (this.byNamespace.get(ns) ?? []).filter((p) => labelsMatch(p.spec.selector?.matchLabels, labels)),
    );
  }

  /** The composed policy of a workload (a sidecar's namespace and labels). */
  forWorkload(mesh: MeshMtlsDefaults, namespace: string, labels: Labels): WorkloadPeerAuthentication {
    const candidates = this.candidates(mesh.rootNamespace, namespace, labels);
    const composed = composePeerAuthentication(mesh.rootNamespace, candidates, mesh.defaultMode);
    const key = `${ref(composed.mesh)}|${ref(composed.namespace)}|${ref(composed.workload)}|${mergedKey(composed.merged)}`;
    return { ...composed, key };
  }

  /**
   * Istio's GetNamespaceMutualTLSMode: the mode of the namespace-level policy (UNSET inherits the
   * mesh's), else the mesh policy's (UNSET meaning PERMISSIVE), else undefined when neither
   * exists. Workload and port policies are not consulted: a client cannot know which workload
   * of a service it will reach. Auto mTLS uses this as its hint.
   */
  namespaceMode(mesh: MeshMtlsDefaults, namespace: string): EffectiveMtlsMode | undefined {
    const levelPolicy = (ns: string) => (this.byNamespace.get(ns) ?? []).find((p) => !hasSelector(p));
    const meshPolicy = levelPolicy(mesh.rootNamespace);
    const meshMode =
      meshPolicy === undefined ? undefined : (explicitMode(meshPolicy.spec.mtls?.mode) ?? mesh.defaultMode);
    if (namespace === mesh.rootNamespace) return meshMode;
    const own = levelPolicy(namespace);
    if (own === undefined) return meshMode;
    return explicitMode(own.spec.mtls?.mode) ?? meshMode ?? mesh.defaultMode;
  }
}

/** The composed policy of a sidecar in `push` (memoized per push by namespace and labels). */
export function proxyPeerAuthentication(
  push: PushContext,
  proxy: Pick<ProxyNode, 'namespace' | 'labels'>,
): WorkloadPeerAuthentication {
  return push.index.perPush(`pa|${proxy.namespace}|${JSON.stringify(proxy.labels)}`, () =>
    push.index.peerAuthentications.forWorkload(meshMtlsDefaults(push), proxy.namespace, proxy.labels),
  );
}

export function meshMtlsDefaults(push: PushContext): MeshMtlsDefaults {
  return { rootNamespace: push.rootNamespace, defaultMode: push.defaultMtlsMode };
}
