/**
 * Subset fallback (a Trellis extension, issue #13): the VirtualService annotation
 * `trellis.io/fallback-subset: <subset>` makes every route destination that names another subset
 * of the same host go to an aggregate cluster (Envoy's `envoy.clusters.aggregate`) listing that
 * subset's cluster first and the fallback subset's second: the first with healthy endpoints
 * serves, so a canary or sandbox lane whose endpoints are all gone, unhealthy or ejected spills
 * to the stable subset instead of answering 503, and returns as soon as they are back.
 *
 * The aggregate is named `outbound|PORT|SUBSET~fallback~FALLBACK|HOST` ('~' cannot appear in a
 * subset name, a DNS label). Its circuit breakers are the subset cluster's (the route's retries
 * and retry budget are counted on it). Envoy and proxyless gRPC (gRFC A37) implement aggregate
 * clusters natively; the Trellis proxy in proxy/upstream/cluster-manager.ts.
 *
 * Routes (route-action.ts) and clusters (generators.ts CDS) decide the same way from the same
 * resources: CDS emits an aggregate for every destination of an annotated VirtualService whose
 * host the proxy sees (on every port of the host when the destination names none), so a route
 * never names an aggregate the proxy lacks.
 */
import { fqdn } from '../../api/hosts.js';
import {
  annotationValue,
  FALLBACK_SUBSET_ANNOTATION,
  parseFallbackSubset,
} from '../../api/trellis-annotations.js';
import type { Cluster } from '../../protocol/envoy-types.js';
import { TYPE } from '../../protocol/protos.js';
import type { Flavor } from './cluster.js';
import { durationMs, pack } from './envoy.js';
import { digest } from './memo.js';
import { outboundCluster } from './names.js';
import type { PushContext, VirtualServiceResource } from './push-context.js';

export const AGGREGATE_CLUSTER_TYPE = 'envoy.clusters.aggregate';
const SEPARATOR = '~fallback~';

/** The subset slot of the aggregate's name. */
export function fallbackSubsetSlot(subset: string, fallback: string): string {
  return `${subset}${SEPARATOR}${fallback}`;
}

/** The fallback subset a route's VirtualService names, if any. */
export function routeFallback(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  return annotationValue(annotations, FALLBACK_SUBSET_ANNOTATION, parseFallbackSubset);
}

/** The subset slot a destination's cluster gets: its own, or the aggregate's when it falls back. */
export function destinationSubset(subset: string | undefined, fallback: string | undefined): string {
  if (subset === undefined || subset === '') return '';
  if (fallback === undefined || fallback === subset) return subset;
  return fallbackSubsetSlot(subset, fallback);
}

export interface FallbackTarget {
  host: string;
  /** Undefined: the destination names no port (every port of the host). */
  port?: number;
  subset: string;
  fallback: string;
}

/** Every destination of every annotated VirtualService (delegates included), once per VS set. */
export function fallbackTargets(push: PushContext): readonly FallbackTarget[] {
  const index = push.index.virtualServices;
  return push.index.cached(`fallback-targets|${index.fingerprint}|${push.domainSuffix}`, () => {
    const out = new Map<string, FallbackTarget>();
    const all: VirtualServiceResource[] = [...index.roots.map((r) => r.vs), ...index.delegates.values()];
    for (const vs of all) {
      const fallback = routeFallback(vs.metadata.annotations);
      if (fallback === undefined) continue;
      for (const route of vs.spec.http ?? []) {
        for (const d of route.route ?? []) {
          const subset = d.destination.subset;
          if (subset === undefined || subset === '' || subset === fallback) continue;
          const host = fqdn(d.destination.host, vs.metadata.namespace, push.domainSuffix);
          const t: FallbackTarget = { host, subset, fallback };
          if (d.destination.port?.number !== undefined) t.port = d.destination.port.number;
          out.set(JSON.stringify(t), Object.freeze(t));
        }
      }
    }
    return Object.freeze([...out.values()]);
  });
}

/** The targets among the hosts a proxy sees, as one key part. */
export function fallbackKey(targets: readonly FallbackTarget[], visible: (host: string) => boolean): string {
  const mine = targets.filter((t) => visible(t.host));
  return mine.length === 0 ? '' : digest(JSON.stringify(mine));
}

export function buildFallbackCluster(
  host: string,
  port: number,
  subset: string,
  fallback: string,
  subsetCluster: Cluster | undefined,
  flavor: Flavor,
): Cluster {
  const cluster: Cluster = {
    name: outboundCluster(host, port, fallbackSubsetSlot(subset, fallback)),
    connect_timeout: subsetCluster?.connect_timeout ?? durationMs(10_000),
    // Envoy requires CLUSTER_PROVIDED; grpc-js-xds refuses it and ignores the policy of an
    // aggregate (gRFC A37), so it gets the default.
    lb_policy: flavor === 'grpc' ? 'ROUND_ROBIN' : 'CLUSTER_PROVIDED',
    cluster_type: {
      name: AGGREGATE_CLUSTER_TYPE,
      typed_config: pack(TYPE.aggregateCluster, {
        clusters: [outboundCluster(host, port, subset), outboundCluster(host, port, fallback)],
      }),
    },
  };
  if (subsetCluster?.circuit_breakers !== undefined)
    cluster.circuit_breakers = subsetCluster.circuit_breakers;
  return cluster;
}
