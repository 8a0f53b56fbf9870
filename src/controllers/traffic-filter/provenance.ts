/**
 * Provenance travels with the effective resource, as an annotation the derivation writes and
 * the config API reads back (`GET /v1/config/KIND/NS/NAME?effective=true`): no side channel,
 * so the served resource and its provenance can never come from different snapshots.
 */
import type { Resource } from '../../api/resource.js';
import type { Provenance } from './layering.js';

export const PROVENANCE_ANNOTATION = 'trellis.io/traffic-filter-provenance';

export function withProvenance(r: Resource, provenance: Record<string, Provenance>): Resource {
  return {
    ...r,
    metadata: {
      ...r.metadata,
      annotations: { ...r.metadata.annotations, [PROVENANCE_ANNOTATION]: JSON.stringify(provenance) },
    },
  };
}

/** The provenance a resource carries (empty when no filter set anything) and the resource without it. */
export function splitProvenance(r: Resource): { resource: Resource; provenance: Record<string, Provenance> } {
  const text = r.metadata.annotations?.[PROVENANCE_ANNOTATION];
  if (text === undefined) return { resource: r, provenance: {} };
  const { [PROVENANCE_ANNOTATION]: _, ...annotations } = r.metadata.annotations ?? {};
  const { annotations: _all, ...rest } = r.metadata;
  const metadata = Object.keys(annotations).length === 0 ? rest : { ...rest, annotations };
  let provenance: Record<string, Provenance> = {};
  try {
    provenance = JSON.parse(text) as Record<string, Provenance>;
  } catch {
    // Written by a user rather than the derivation: not ours to interpret.
    return { resource: r, provenance: {} };
  }
  return { resource: { ...r, metadata }, provenance };
}
