/**
 * A Router's rollout: from the resources in effect to the target, one step at a time, each step
 * written only once the one before it is in effect on every proxy (convergence). The order is
 * the one that never names a subset a proxy does not have (Istio issue 8420):
 *
 *   1. add-subsets     the DestinationRule gains the target's subsets (old ones kept), with the
 *                      ServiceEntry's ports;
 *   2. route           the VirtualService becomes the target's;
 *   3. remove-subsets  the DestinationRule (and ServiceEntry) become the target's, dropping the
 *                      subsets no route names any more.
 *
 * A deleted Router walks the same steps to nothing: its VirtualService goes first. The target is
 * read again before every step, so edits made while a step waits queue and merge (the latest
 * wins). A step that waits past the timeout stalls the rollout, naming the proxies holding it and
 * why; it resumes by itself once they catch up (or, for a proxy that left, once it is forgotten).
 * Pure: time is passed in, convergence is asked through a function.
 */
import type { Resource } from '../../api/resource.js';
import type { ConvergenceReport, ProxyLag } from './convergence-report.js';
import type { RouterResources } from './target.js';

export type RolloutPhase = 'Progressing' | 'Ready' | 'Stalled';
export type StepName = 'add-subsets' | 'route' | 'remove-subsets';

/** One write to the Router's store layer. */
export interface RolloutWrite {
  step: StepName;
  put: Resource[];
  remove: Resource[];
}

export interface RolloutState {
  phase: RolloutPhase;
  /** The step last written, waiting to be in effect everywhere. */
  waiting?: { step: StepName; revision: number; since: number };
  /** The store revision of the last step found in effect everywhere (-1: none yet). */
  inEffectRevision: number;
  message: string;
  lagging: readonly ProxyLag[];
}

export const INITIAL_STATE: RolloutState = {
  phase: 'Progressing',
  inEffectRevision: -1,
  message: 'starting',
  lagging: [],
};

export interface RolloutInput {
  current: RouterResources;
  target: RouterResources;
  /** Clock time (ms). */
  now: number;
  /** How long a step may wait on the proxies before the rollout stalls. */
  timeoutMs: number;
  /** Is the store at `revision` in effect on every proxy? */
  convergence(revision: number): ConvergenceReport;
}

export interface RolloutDecision {
  state: RolloutState;
  /** The next step to write; record it with `written` once the store took it. */
  write?: RolloutWrite;
}

/** Decides what to do now: keep waiting, stall, write the next step, or report Ready. */
export function advance(state: RolloutState, input: RolloutInput): RolloutDecision {
  if (state.waiting !== undefined) {
    const { step, revision, since } = state.waiting;
    const report = input.convergence(revision);
    if (!report.inEffect) {
      const waited = input.now - since;
      const who = report.lagging.map((l) => `${l.name} (${l.reason}: ${l.detail})`).join('; ');
      if (waited >= input.timeoutMs)
        return {
          state: {
            ...state,
            phase: 'Stalled',
            lagging: report.lagging,
            message: `step ${step} (revision ${revision}) is not in effect after ${Math.round(waited / 1000)}s: ${who || 'no push has carried it yet'}`,
          },
        };
      return {
        state: {
          ...state,
          phase: 'Progressing',
          lagging: report.lagging,
          message: `step ${step} (revision ${revision}) waits for ${report.lagging.length} of ${report.proxies} proxies`,
        },
      };
    }
    state = { ...state, waiting: undefined, inEffectRevision: revision, lagging: [] };
  }
  const write = nextStep(input.current, input.target);
  if (write === undefined)
    return {
      state: { ...state, phase: 'Ready', lagging: [], message: 'the target is in effect on every proxy' },
    };
  return { state: { ...state, phase: 'Progressing', message: `writing step ${write.step}` }, write };
}

/** Records that `write` is in the store at `revision`: the rollout now waits for it. */
export function written(
  state: RolloutState,
  write: RolloutWrite,
  revision: number,
  now: number,
): RolloutState {
  return {
    ...state,
    phase: 'Progressing',
    waiting: { step: write.step, revision, since: now },
    message: `step ${write.step} (revision ${revision}) written; waiting for the proxies`,
  };
}

/** The next write from `current` toward `target`; undefined once they are the same. */
export function nextStep(current: RouterResources, target: RouterResources): RolloutWrite | undefined {
  // 1. The target's subsets join the current ones (and the service its ports).
  const union = target.destinationRule && withSubsetsOf(target.destinationRule, current.destinationRule);
  const add = [
    target.serviceEntry && !same(current.serviceEntry, target.serviceEntry) ? target.serviceEntry : undefined,
    union && !same(current.destinationRule, union) ? union : undefined,
  ].filter((r): r is Resource => r !== undefined);
  if (add.length > 0) return { step: 'add-subsets', put: add, remove: [] };
  // 2. The routes.
  if (!same(current.virtualService, target.virtualService))
    return change('route', current.virtualService, target.virtualService);
  // 3. What no route names any more.
  const put: Resource[] = [];
  const remove: Resource[] = [];
  for (const key of ['destinationRule', 'serviceEntry'] as const) {
    const w = same(current[key], target[key])
      ? undefined
      : change('remove-subsets', current[key], target[key]);
    if (w === undefined) continue;
    put.push(...w.put);
    remove.push(...w.remove);
  }
  return put.length + remove.length > 0 ? { step: 'remove-subsets', put, remove } : undefined;
}

function change(step: StepName, current: Resource | undefined, target: Resource | undefined): RolloutWrite {
  if (target !== undefined) return { step, put: [target], remove: [] };
  return { step, put: [], remove: current ? [current] : [] };
}

interface Subset {
  name: string;
}

/**
 * `target` with the subsets of `current` it lacks kept: current ones in their order (the
 * target's definition wins by name), then the target's new ones, so an unchanged union is seen
 * as unchanged.
 */
function withSubsetsOf(target: Resource, current: Resource | undefined): Resource {
  const theirs = (current?.spec as { subsets?: Subset[] } | undefined)?.subsets ?? [];
  const spec = target.spec as { subsets?: Subset[] };
  const ours = new Map((spec.subsets ?? []).map((s) => [s.name, s]));
  if (theirs.every((s) => ours.has(s.name))) return target;
  const merged = theirs.map((s) => ours.get(s.name) ?? s);
  const known = new Set(theirs.map((s) => s.name));
  for (const s of ours.values()) if (!known.has(s.name)) merged.push(s);
  return { ...target, spec: { ...spec, subsets: merged } };
}

/** Same spec and annotations (store bookkeeping such as resourceVersion aside). */
export function same(a: Resource | undefined, b: Resource | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    stable(a.spec) === stable(b.spec) &&
    stable(a.metadata.annotations ?? {}) === stable(b.metadata.annotations ?? {})
  );
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)),
        )
      : v,
  );
}
