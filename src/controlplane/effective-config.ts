/**
 * `?effective=true` on the config API: the resource as the mesh serves it (after the
 * derivations: TrafficFilters patched in, Gateway API routes translated), with a `status` that
 * says where it came from: `provenance` (field path -> the filter that set it), `conflicts`
 * (fields two filters of one priority both set, so neither did), and `problems` the derivations
 * found in this resource. `status` is ignored when the answer is applied again.
 */
import { TrellisError } from '../core/errors.js';
import type { Resource } from '../api/resource.js';
import { shownResource } from '../api/validate.js';
import { splitProvenance } from '../controllers/traffic-filter/provenance.js';
import type { EffectiveConfig } from './api-views.js';

export function wantsEffective(query: URLSearchParams): boolean {
  const v = query.get('effective');
  if (v === null || v === 'false') return false;
  if (v === 'true' || v === '') return true;
  throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `effective=${v}: expected true or false`);
}

function effectiveOf(api: { effective?: () => EffectiveConfig }): EffectiveConfig {
  if (api.effective === undefined) {
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      'this API serves the config as written only; drop effective=true',
    );
  }
  return api.effective();
}

/** The answer for one served resource: its manifest and `status` (see the file comment). */
export function effectiveItem(r: Resource, config: EffectiveConfig): Record<string, unknown> {
  const { resource, provenance, conflicts } = splitProvenance(r);
  const { namespace, name } = r.metadata;
  const problems = config.problems
    .filter((p) => p.source.kind === r.kind && p.source.namespace === namespace && p.source.name === name)
    .flatMap((p) => p.problems.map((q) => ({ derivation: p.derivation, ...q })));
  // A derivation's own status (Gateway API conditions) is kept beside these.
  const own = typeof r.status === 'object' && r.status !== null ? r.status : {};
  return { ...shownResource(resource), status: { ...own, provenance, conflicts, problems } };
}

export function effectiveList(
  api: { effective?: () => EffectiveConfig },
  kind: string,
  namespace: string | undefined,
): { resource: Resource; shown: Record<string, unknown> }[] {
  const config = effectiveOf(api);
  return config.snapshot
    .list(kind)
    .filter((r) => namespace === undefined || r.metadata.namespace === namespace)
    .map((r) => ({ resource: r, shown: effectiveItem(r, config) }));
}

export function effectiveGet(
  api: { effective?: () => EffectiveConfig },
  kind: string,
  namespace: string,
  name: string,
): Record<string, unknown> {
  const config = effectiveOf(api);
  const r = config.snapshot.get(kind, namespace, name);
  if (r === undefined) {
    throw new TrellisError(
      'TRELLIS_NOT_FOUND',
      `${kind} ${namespace}/${name} is not served (trellis get ${kind.toLowerCase()} -A --effective lists them)`,
    );
  }
  return effectiveItem(r, config);
}
