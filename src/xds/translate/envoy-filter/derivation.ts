/**
 * Reports EnvoyFilter patches whose value does not decode as the Envoy message their `applyTo`
 * names: the control plane lists them with its config problems (`GET /debug/config_errors`,
 * `trellis check`), naming the EnvoyFilter and the patch's field path; the translation skips
 * those patches and applies the rest (Istio's behaviour). It changes no resource.
 */
import type { ConfigDerivation, DerivationProblem } from '../../../controllers/derivation.js';
import { decodeEnvoyFilter, ENVOY_FILTER_KIND } from './patches.js';

export const envoyFilterDerivation: ConfigDerivation = {
  name: 'envoy-filter',
  derive(snapshot) {
    const problems: DerivationProblem[] = [];
    for (const r of snapshot.list(ENVOY_FILTER_KIND)) {
      const decoded = decodeEnvoyFilter(r);
      if (decoded.problems.length === 0) continue;
      problems.push({
        source: { kind: ENVOY_FILTER_KIND, namespace: r.metadata.namespace, name: r.metadata.name },
        problems: decoded.problems,
      });
    }
    return { problems };
  },
};
