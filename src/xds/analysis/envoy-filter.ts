/**
 * EnvoyFilter patches whose value is not the Envoy message their `applyTo` names (an unknown
 * field, a wrong type, an unknown `@type`): a control plane skips such a patch and applies the
 * rest, so `trellis analyze` reports each as an error at its field path.
 */
import type { Resource } from '../../api/resource.js';
import { decodeEnvoyFilter, ENVOY_FILTER_KIND } from '../translate/envoy-filter/patches.js';

export function envoyFilterFindings(
  resources: readonly Resource[],
): { resource: Resource; path: string; message: string }[] {
  return resources
    .filter((r) => r.kind === ENVOY_FILTER_KIND)
    .flatMap((r) =>
      decodeEnvoyFilter(r).problems.map((p) => ({ resource: r, path: p.path, message: p.message })),
    );
}
