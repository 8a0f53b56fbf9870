/**
 * Layering: TrafficFilters patched onto one frame (a VirtualService, a DestinationRule, or the
 * bucket of a host's local rate limit), pure.
 *
 * - Order: ascending priority (lower numbers first), so a higher priority number wins a field
 *   (Istio's EnvoyFilter orders its patches the same way). Within one priority, filters go in
 *   namespace/name order; that order can never decide a value, because of the next rule.
 * - Conflicts: two filters of the same priority setting one field to different values (or
 *   different members of one Istio one-of, e.g. `simple` and `consistentHash`) conflict. Neither
 *   applies that field: it keeps what the frame and the lower priorities gave it, and the
 *   conflict is reported naming both filters and the field. Their other fields still apply.
 *   Equal values are no conflict; provenance names every filter that set it.
 * - Each filter's fields are applied together and the frame is validated again (Istio's own
 *   validators): a filter whose fields would make the frame invalid is left out of it whole and
 *   reported with the validator's errors.
 */
import { formatPath, isAtOrUnder, type PathStep } from './field-paths.js';
import { oneOfGroup, sameValue, setLeaf, type Leaf } from './merge-rules.js';

export interface FilterRef {
  /** `namespace/name`. */
  key: string;
  owner: string;
  priority: number;
}

/** A filter with the places of this frame its feature lands on and the fields it sets there. */
export interface PlacedFilter extends FilterRef {
  places: readonly (readonly PathStep[])[];
  leaves: readonly Leaf[];
  /** The leaves' path inside the filter's own spec, for problems (`spec.retries.attempts`). */
  specPath(leaf: Leaf): string;
}

export interface Provenance {
  /** The filter that set the field (`namespace/name`), its owner and priority. */
  filter: string;
  owner: string;
  priority: number;
  /** Filters of the same priority that set the same value. */
  sharedWith?: string[];
}

export interface ConflictParty {
  filter: FilterRef;
  /** The field in the filter's own spec. */
  field: string;
  value: unknown;
}

export interface Conflict {
  /** The field of the frame (or the one-of, `spec.trafficPolicy.loadBalancer{simple|consistentHash}`). */
  at: string;
  priority: number;
  parties: ConflictParty[];
}

export interface Rejection {
  filter: FilterRef;
  errors: string[];
}

export interface LayerResult {
  /** The frame with every applicable field set (a copy; the input is not modified). */
  root: Record<string, unknown>;
  /** Frame field path -> who set it. */
  provenance: Record<string, Provenance>;
  conflicts: Conflict[];
  rejected: Rejection[];
}

interface Entry {
  filter: PlacedFilter;
  leaf: Leaf;
  place: readonly PathStep[];
  at: string;
  /** The one-of groups this field passes through: group id -> the member it chooses. */
  groups: { id: string; member: string }[];
  blocked: boolean;
}

/** Frame errors (`path: message`) the validator reports for `root`. */
export type FrameValidator = (root: Record<string, unknown>) => string[];

export function compareFilters(a: FilterRef, b: FilterRef): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

export function layerFilters(
  frame: Record<string, unknown>,
  filters: readonly PlacedFilter[],
  validate: FrameValidator,
): LayerResult {
  let root = structuredClone(frame);
  const provenance: Record<string, Provenance> = {};
  const conflicts: Conflict[] = [];
  const rejected: Rejection[] = [];
  let baseline = new Set(validate(root));

  const ordered = [...filters].sort(compareFilters);
  for (let i = 0; i < ordered.length;) {
    const priority = (ordered[i] as PlacedFilter).priority;
    const level: PlacedFilter[] = [];
    while (i < ordered.length && (ordered[i] as PlacedFilter).priority === priority) {
      level.push(ordered[i] as PlacedFilter);
      i++;
    }
    const entries = level.flatMap(entriesOf);
    conflicts.push(...findConflicts(entries, priority));

    for (const filter of level) {
      const mine = entries.filter((e) => e.filter === filter && !e.blocked);
      if (mine.length === 0) continue;
      const next = structuredClone(root);
      const changes: { at: string; cleared: string[] }[] = [];
      for (const e of mine) {
        const cleared = setLeaf(next, e.place, e.leaf.path, e.leaf.value).map(formatPath);
        changes.push({ at: e.at, cleared });
      }
      const errors = validate(next);
      const added = errors.filter((e) => !baseline.has(e));
      if (added.length > 0) {
        rejected.push({ filter: refOf(filter), errors: added });
        continue;
      }
      root = next;
      baseline = new Set(errors);
      for (const { at, cleared } of changes) record(provenance, at, cleared, filter);
    }
  }
  return { root, provenance, conflicts, rejected };
}

function refOf(f: FilterRef): FilterRef {
  return { key: f.key, owner: f.owner, priority: f.priority };
}

function entriesOf(filter: PlacedFilter): Entry[] {
  const out: Entry[] = [];
  for (const place of filter.places) {
    for (const leaf of filter.leaves) {
      const groups: Entry['groups'] = [];
      for (let d = 0; d < leaf.path.length; d++) {
        const key = leaf.path[d] as string;
        const parent = leaf.path.slice(0, d);
        const group = oneOfGroup(parent, key);
        if (group !== undefined) {
          groups.push({ id: `${formatPath([...place, ...parent])}{${group.join('|')}}`, member: key });
        }
      }
      out.push({ filter, leaf, place, at: formatPath([...place, ...leaf.path]), groups, blocked: false });
    }
  }
  return out;
}

/** Marks the entries of one priority level that conflict as blocked; returns the conflicts. */
function findConflicts(entries: Entry[], priority: number): Conflict[] {
  const out: Conflict[] = [];
  const report = (at: string, involved: Entry[]) => {
    for (const e of involved) e.blocked = true;
    const parties = involved
      .map((e) => ({ filter: refOf(e.filter), field: e.filter.specPath(e.leaf), value: e.leaf.value }))
      .sort((a, b) => compareFilters(a.filter, b.filter) || (a.field < b.field ? -1 : 1));
    out.push({ at, priority, parties });
  };

  // The same field from different filters with different values.
  const byAt = new Map<string, Entry[]>();
  for (const e of entries) byAt.set(e.at, [...(byAt.get(e.at) ?? []), e]);
  for (const [at, same] of byAt) {
    const first = same[0] as Entry;
    if (new Set(same.map((e) => e.filter)).size < 2) continue;
    if (!same.every((e) => sameValue(e.leaf.value, first.leaf.value))) report(at, same);
  }
  // A field one filter sets inside a value another filter sets whole.
  for (const [outer, outside] of byAt) {
    for (const [inner, inside] of byAt) {
      if (inner === outer || !isAtOrUnder(inner, outer)) continue;
      const owners = new Set(outside.map((e) => e.filter));
      if (inside.some((e) => !owners.has(e.filter))) report(outer, [...outside, ...inside]);
    }
  }

  // Different members of one one-of, chosen by different filters.
  const byGroup = new Map<string, Entry[]>();
  for (const e of entries) for (const g of e.groups) byGroup.set(g.id, [...(byGroup.get(g.id) ?? []), e]);
  for (const [id, group] of byGroup) {
    const members = new Set(group.map((e) => e.groups.find((g) => g.id === id)?.member));
    if (members.size < 2 || new Set(group.map((e) => e.filter)).size < 2) continue;
    report(id, group);
  }
  return out;
}

function record(
  provenance: Record<string, Provenance>,
  at: string,
  cleared: string[],
  f: PlacedFilter,
): void {
  const before = provenance[at];
  for (const path of Object.keys(provenance)) {
    if (isAtOrUnder(path, at) || cleared.some((c) => isAtOrUnder(path, c))) delete provenance[path];
  }
  if (before !== undefined && before.priority === f.priority && before.filter !== f.key) {
    provenance[at] = { ...before, sharedWith: [...(before.sharedWith ?? []), f.key] };
    return;
  }
  provenance[at] = { filter: f.key, owner: f.owner, priority: f.priority };
}
