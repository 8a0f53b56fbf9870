/**
 * The VirtualService annotation `trellis.io/sticky-canary: header:<name> | cookie:<name>` on the
 * routes it applies to: every weighted route of that VirtualService carries route metadata
 * `filter_metadata["trellis.sticky_canary"]` = {header|cookie: name}, which the Trellis proxy reads
 * to pick the weighted cluster by a hash of that key (proxy/policy/sticky-canary.ts). Envoy has
 * no reader for the key and makes its ordinary weighted picks; proxyless gRPC clients are not
 * sent it (they ignore route metadata too). Routes with one destination need no pick and get none.
 */
import {
  annotationValue,
  parseStickyCanary,
  STICKY_CANARY_ANNOTATION,
} from '../../api/trellis-annotations.js';
import type { Route } from '../../protocol/envoy-types.js';
import type { Flavor } from './cluster.js';

/** The route metadata key the Trellis proxy reads (its STICKY_CANARY_METADATA). */
export const STICKY_CANARY_METADATA = 'trellis.sticky_canary';

export function applyStickyCanary(
  route: Route,
  annotations: Readonly<Record<string, string>> | undefined,
  flavor: Flavor,
): void {
  if (flavor !== 'envoy' || route.route?.weighted_clusters === undefined) return;
  const sticky = annotationValue(annotations, STICKY_CANARY_ANNOTATION, parseStickyCanary);
  if (sticky === undefined) return;
  const [field, name] = 'header' in sticky ? ['header', sticky.header] : ['cookie', sticky.cookie];
  route.metadata = {
    ...route.metadata,
    filter_metadata: {
      ...route.metadata?.filter_metadata,
      [STICKY_CANARY_METADATA]: { fields: { [field]: { stringValue: name } } },
    },
  };
}
