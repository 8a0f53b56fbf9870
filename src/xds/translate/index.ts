/**
 * Translation from Istio resources + the service index to Envoy xDS v3 resources.
 *
 * The ADS server builds one PushContext per change and asks generate() for each proxy and
 * type. Generators are memoized inside the push context on keys naming every input they read,
 * so proxies that see the same things share one generated (frozen) result; affectedTypes()
 * compares those keys between two push contexts to tell which types a change can affect.
 */
import type { PackedMessages } from '../../protocol/envoy-types.js';
import { TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { cds, eds, type Resources, type TypeGenerator } from './generators.js';
import { withEnvoyFilters } from './envoy-filter/index.js';
import { withTelemetry } from './telemetry/index.js';
import { lds, rds } from './generators-http.js';
import { proxyView } from './proxy-view.js';
import { sds } from './secrets.js';
import type { PushContext } from './push-context.js';

export { buildPushContext, type PushContext, type PushContextOptions } from './push-context.js';
export { visibleServices } from './scope.js';

const GENERATORS: { [U in ResourceTypeUrl]: TypeGenerator<PackedMessages[U]> } = {
  // EnvoyFilter patches apply to what CDS, LDS and RDS generate (and name it in their keys);
  // telemetry (tracing, access logs, stats, the collector's cluster) is added before them.
  [TYPE.cluster]: withEnvoyFilters(TYPE.cluster, withTelemetry(TYPE.cluster, cds)),
  [TYPE.endpoint]: eds,
  [TYPE.listener]: withEnvoyFilters(TYPE.listener, withTelemetry(TYPE.listener, lds)),
  [TYPE.route]: withEnvoyFilters(TYPE.route, rds),
  [TYPE.secret]: sds,
};

/**
 * Resources of one type for one proxy: name -> plain Envoy object (snake_case proto fields,
 * deep-frozen). `requestedNames` absent or empty means every resource the proxy should have;
 * otherwise only those names (proxyless gRPC listeners are generated for the names asked).
 */
export function generate<U extends ResourceTypeUrl>(
  push: PushContext,
  proxy: ProxyNode,
  typeUrl: U,
  requestedNames?: readonly string[],
): Resources<PackedMessages[U]> {
  return GENERATORS[typeUrl].generate(push, proxy, requestedNames);
}

/** The input key of one type for one proxy (exposed for debugging and tests). */
export function generatorKey(push: PushContext, proxy: ProxyNode, typeUrl: ResourceTypeUrl): string {
  return GENERATORS[typeUrl].key(push, proxy);
}

/** Every proxy field a generator reads: proxies equal in these get equal output. */
function proxyFacets(proxy: ProxyNode): string {
  return JSON.stringify([proxy.type, proxy.namespace, proxy.labels, proxy.ipAddresses, proxy.locality]);
}

/**
 * Types whose output for this proxy may differ between two push contexts: exactly those whose
 * input keys differ. An endpoint-only change moves only the EDS key; a change to a
 * VirtualService the proxy cannot see moves none. Keys are remembered per push, so comparing
 * against the previous push reuses the keys computed when it was the next one.
 */
export function affectedTypes(
  prev: PushContext,
  next: PushContext,
  proxy: ProxyNode,
): ReadonlySet<ResourceTypeUrl> {
  const facets = proxyFacets(proxy);
  const keys = (push: PushContext): ReadonlyMap<ResourceTypeUrl, string> =>
    push.index.perPush(`keys|${facets}`, () => {
      const out = new Map<ResourceTypeUrl, string>();
      const view = proxyView(push, proxy);
      for (const [type, gen] of Object.entries(GENERATORS) as [ResourceTypeUrl, TypeGenerator][]) {
        out.set(type, gen.key(push, proxy, view));
      }
      return out;
    });
  const before = keys(prev);
  const after = keys(next);
  const out = new Set<ResourceTypeUrl>();
  for (const [type, key] of after) if (before.get(type) !== key) out.add(type);
  return out;
}
