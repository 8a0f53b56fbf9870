/**
 * Derivations: pure steps that turn the config the user wrote into the config the mesh serves.
 * The control plane runs them, in order, over every store snapshot before it builds a push
 * context and before it indexes ServiceEntries (control-plane.ts `effectiveSnapshot`). A step
 * adds resources (Gateway API routes become Istio Gateways and VirtualServices), replaces them
 * (TrafficFilters patched onto a VirtualService) or hides them; it never writes to a store, so
 * deleting its input removes exactly what it produced.
 *
 * Stateful controllers (a Router's ordered rollout) instead write derived resources into a store
 * layer the control plane reads; derivations then see those like any other resource.
 */
import type { Problem } from '../core/errors.js';
import { resourceKey, type Resource } from '../api/resource.js';
import { registeredKinds } from '../api/kinds.js';
import { FrozenSnapshot } from '../config/snapshot.js';
import type { ConfigSnapshot } from '../config/types.js';

/** A problem a derivation found in one input resource (a conflict, an unresolved reference). */
export interface DerivationProblem {
  source: { kind: string; namespace: string; name: string };
  problems: readonly Problem[];
}

export interface DerivationResult {
  /** Resources to add, or to put in place of the resource of the same kind, namespace and name. */
  put?: readonly Resource[];
  /** Resources to leave out of the served config (`kind/namespace/name` keys, resourceKey()). */
  remove?: readonly string[];
  /** Reported beside config errors and warnings (`GET /debug/config_errors`, `trellis check`). */
  problems?: readonly DerivationProblem[];
}

/**
 * What a step may know beside the written config: the mesh's services (ServiceEntries and
 * registrations), e.g. whether a Gateway API backendRef names a Service that exists.
 */
export interface DerivationContext {
  /** Whether a service host is known. Absent: unknown here, and every host counts as known. */
  readonly hasService?: (host: string) => boolean;
}

export interface ConfigDerivation {
  /** Short and stable: names the step in problems and logs (`gateway-api`, `traffic-filter`). */
  readonly name: string;
  /**
   * Pure: the same snapshot and context give the same result. Throwing skips the step for this
   * snapshot.
   */
  derive(snapshot: ConfigSnapshot, context?: DerivationContext): DerivationResult;
}

export interface DerivedSnapshot {
  snapshot: ConfigSnapshot;
  problems: readonly (DerivationProblem & { derivation: string })[];
  /** Steps that threw, with the error (the step's input passes through unchanged). */
  failures: readonly { derivation: string; error: unknown }[];
}

/** Runs `steps` in order; each sees the previous one's output. Keeps the input's revision. */
export function deriveSnapshot(
  input: ConfigSnapshot,
  steps: readonly ConfigDerivation[],
  context: DerivationContext = {},
): DerivedSnapshot {
  let snapshot = input;
  const problems: DerivedSnapshot['problems'][number][] = [];
  const failures: DerivedSnapshot['failures'][number][] = [];
  for (const step of steps) {
    let result: DerivationResult;
    try {
      result = step.derive(snapshot, context);
    } catch (error) {
      failures.push({ derivation: step.name, error });
      continue;
    }
    for (const p of result.problems ?? []) problems.push({ ...p, derivation: step.name });
    if ((result.put?.length ?? 0) === 0 && (result.remove?.length ?? 0) === 0) continue;
    snapshot = overlay(snapshot, result);
  }
  return { snapshot, problems, failures };
}

function overlay(base: ConfigSnapshot, result: DerivationResult): ConfigSnapshot {
  const byKey = new Map<string, Resource>();
  const key = (r: Resource) => resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
  for (const { kind } of registeredKinds()) for (const r of base.list(kind)) byKey.set(key(r), r);
  for (const k of result.remove ?? []) byKey.delete(k);
  for (const r of result.put ?? []) byKey.set(key(r), r);
  return new FrozenSnapshot(base.revision, byKey.values());
}
