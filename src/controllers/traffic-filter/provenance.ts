/**
 * Provenance travels with the effective resource, as an annotation the derivation writes and
 * the config API reads back (`GET /v1/config/KIND/NS/NAME?effective=true`): no side channel,
 * so the served resource and its provenance can never come from different snapshots.
 */
import type { Resource } from '../../api/resource.js';
import type { Conflict, Provenance } from './layering.js';

export const PROVENANCE_ANNOTATION = 'trellis.io/traffic-filter-provenance';

/** A conflict as a frame shows it: where, at which priority, between which filters. */
export interface FrameConflict {
  at: string;
  priority: number;
  filters: string[];
}

export interface FrameProvenance {
  /** Frame field path (`spec.http[0].retries.attempts`) -> the filter that set it. */
  provenance: Record<string, Provenance>;
  conflicts: FrameConflict[];
}

export function frameConflicts(conflicts: readonly Conflict[]): FrameConflict[] {
  return conflicts.map((c) => ({
    at: c.at,
    priority: c.priority,
    filters: [...new Set(c.parties.map((p) => p.filter.key))],
  }));
}

export function withProvenance(r: Resource, p: FrameProvenance): Resource {
  return {
    ...r,
    metadata: {
      ...r.metadata,
      annotations: {
        ...r.metadata.annotations,
        [PROVENANCE_ANNOTATION]: JSON.stringify({ fields: p.provenance, conflicts: p.conflicts }),
      },
    },
  };
}

/** The provenance a resource carries (empty when no filter touched it) and the resource without it. */
export function splitProvenance(r: Resource): FrameProvenance & { resource: Resource } {
  const none = { resource: r, provenance: {}, conflicts: [] };
  const text = r.metadata.annotations?.[PROVENANCE_ANNOTATION];
  if (text === undefined) return none;
  let parsed: { fields?: Record<string, Provenance>; conflicts?: FrameConflict[] };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Written by a user rather than the derivation: not ours to interpret.
    return none;
  }
  const { [PROVENANCE_ANNOTATION]: _, ...annotations } = r.metadata.annotations ?? {};
  const { annotations: _all, ...rest } = r.metadata;
  const metadata = Object.keys(annotations).length === 0 ? rest : { ...rest, annotations };
  return { resource: { ...r, metadata }, provenance: parsed.fields ?? {}, conflicts: parsed.conflicts ?? [] };
}
