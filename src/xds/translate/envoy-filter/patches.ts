/**
 * An EnvoyFilter's config patches, read once per resource: each patch value decoded from proto3
 * JSON into the Envoy message its `applyTo` names (strictly: an unknown field, a wrong type or an
 * unknown `@type` is a problem). A patch whose value does not decode is skipped, as Istio skips
 * it, and reported with the EnvoyFilter's name and the patch's index (derivation.ts).
 */
import type { Problem } from '../../../core/errors.js';
import type { Resource } from '../../../api/resource.js';
import {
  ENVOY_FILTER_KIND,
  type ApplyTo,
  type EnvoyConfigObjectMatch,
  type EnvoyFilterSpec,
  type PatchContext,
  type PatchOperation,
} from '../../../api/networking/envoy-filter.js';
import { fromProtoJson } from '../../../protocol/proto-json.js';
import { canonical, type Obj } from './proto-merge.js';

export { ENVOY_FILTER_KIND };

/** The Envoy message each applyTo patches (Istio's xds.BuildXDSObjectFromStruct). */
export const MESSAGE_OF: Readonly<Record<ApplyTo, string>> = {
  LISTENER: 'envoy.config.listener.v3.Listener',
  FILTER_CHAIN: 'envoy.config.listener.v3.FilterChain',
  NETWORK_FILTER: 'envoy.config.listener.v3.Filter',
  HTTP_FILTER: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  ROUTE_CONFIGURATION: 'envoy.config.route.v3.RouteConfiguration',
  VIRTUAL_HOST: 'envoy.config.route.v3.VirtualHost',
  HTTP_ROUTE: 'envoy.config.route.v3.Route',
  CLUSTER: 'envoy.config.cluster.v3.Cluster',
  EXTENSION_CONFIG: 'envoy.config.core.v3.TypedExtensionConfig',
};

export interface DecodedPatch {
  /** `namespace/name` of the EnvoyFilter, and the patch's index in its configPatches. */
  readonly filter: string;
  readonly index: number;
  readonly applyTo: ApplyTo;
  readonly operation: PatchOperation;
  readonly context: PatchContext;
  readonly match: EnvoyConfigObjectMatch;
  /** The value as a canonical message of MESSAGE_OF[applyTo]; `{}` for REMOVE. */
  readonly value: Obj;
}

export interface DecodedEnvoyFilter {
  readonly patches: readonly DecodedPatch[];
  /** Field paths from the resource's root (`spec.configPatches[0].patch.value.name`). */
  readonly problems: readonly Problem[];
}

const cache = new WeakMap<Resource, DecodedEnvoyFilter>();

/** The decoded patches of one (validated, immutable) EnvoyFilter; computed once per object. */
export function decodeEnvoyFilter(resource: Resource): DecodedEnvoyFilter {
  const found = cache.get(resource);
  if (found !== undefined) return found;
  const spec = resource.spec as EnvoyFilterSpec;
  const filter = `${resource.metadata.namespace}/${resource.metadata.name}`;
  const patches: DecodedPatch[] = [];
  const problems: Problem[] = [];
  (spec.configPatches ?? []).forEach((cp, index) => {
    const at = `spec.configPatches[${index}].patch.value`;
    const typeName = MESSAGE_OF[cp.applyTo];
    let value: Obj = {};
    if (cp.patch.value !== undefined) {
      const read = fromProtoJson(typeName, cp.patch.value);
      if (read.problems.length > 0) {
        for (const p of read.problems) {
          const path = `${at}${p.path.slice(p.path.indexOf('.') < 0 ? p.path.length : p.path.indexOf('.'))}`;
          problems.push({
            severity: 'error',
            path,
            message: path.endsWith('.@type')
              ? `${p.message}; the Trellis proxy implements no such extension, so this patch is skipped (remove it, or use a filter the proxy supports)`
              : `${p.message}; this patch is skipped (it is not ${typeName} as proto3 JSON)`,
          });
        }
        return;
      }
      try {
        value = canonical(typeName, read.value);
      } catch (error) {
        problems.push({
          severity: 'error',
          path: at,
          message: `does not encode as ${typeName} (${(error as Error).message}); this patch is skipped`,
        });
        return;
      }
    }
    patches.push({
      filter,
      index,
      applyTo: cp.applyTo,
      operation: cp.patch.operation,
      context: cp.match?.context ?? 'ANY',
      match: cp.match ?? {},
      value,
    });
  });
  const out = { patches, problems };
  cache.set(resource, out);
  return out;
}
