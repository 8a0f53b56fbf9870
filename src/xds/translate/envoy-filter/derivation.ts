/**
 * Reports EnvoyFilter patches whose value does not decode as the Envoy message their `applyTo`
 * names: the control plane lists them with its config problems (`GET /debug/config_errors`,
 * `trellis check`), naming the EnvoyFilter and the patch's field path; the translation skips
 * those patches and applies the rest (Istio's behaviour). It changes no resource.
 */
import type { ConfigDerivation, DerivationProblem } from '../../../controllers/derivation.js';
import type { Problem } from '../../../core/errors.js';
import { decodeEnvoyFilter, ENVOY_FILTER_KIND, type DecodedPatch } from './patches.js';

export const envoyFilterDerivation: ConfigDerivation = {
  name: 'envoy-filter',
  derive(snapshot) {
    const problems: DerivationProblem[] = [];
    for (const r of snapshot.list(ENVOY_FILTER_KIND)) {
      const decoded = decodeEnvoyFilter(r);
      const found = [...decoded.problems, ...edsClusterWarnings(decoded.patches)];
      if (found.length === 0) continue;
      problems.push({
        source: { kind: ENVOY_FILTER_KIND, namespace: r.metadata.namespace, name: r.metadata.name },
        problems: found,
      });
    }
    return { problems };
  },
};

/**
 * A CLUSTER patch whose value takes endpoints over EDS: Trellis generates no endpoint assignment
 * for a cluster a patch adds or renames, so translation leaves the patched cluster out (index.ts,
 * withoutDanglingReferences); say so where the user looks.
 */
function edsClusterWarnings(patches: readonly DecodedPatch[]): Problem[] {
  const out: Problem[] = [];
  for (const p of patches) {
    if (p.applyTo !== 'CLUSTER' || p.operation === 'REMOVE') continue;
    if (p.value.type !== 'EDS' && p.value.eds_cluster_config === undefined) continue;
    out.push({
      severity: 'warning',
      path: `spec.configPatches[${p.index}].patch.value`,
      message:
        'a cluster taking endpoints over EDS gets none from Trellis unless it names a cluster Trellis generates; where it does not, the patched cluster is not served. Use type STATIC or STRICT_DNS with load_assignment',
    });
  }
  return out;
}
