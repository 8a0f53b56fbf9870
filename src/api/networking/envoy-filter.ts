/**
 * Istio's EnvoyFilter (networking.istio.io/v1alpha3): patches applied to the xDS a proxy is
 * served, after Trellis generated it (xds/translate/envoy-filter/). Field names as Istio's YAML
 * writes them; `patch.value` is proto3 JSON of the Envoy message `applyTo` names, checked
 * against Envoy's protos by the translation (the api layer has no protos).
 */
import type { Resource } from '../resource.js';

export const ENVOY_FILTER_KIND = 'EnvoyFilter';

export const APPLY_TO = [
  'LISTENER',
  'FILTER_CHAIN',
  'NETWORK_FILTER',
  'HTTP_FILTER',
  'ROUTE_CONFIGURATION',
  'VIRTUAL_HOST',
  'HTTP_ROUTE',
  'CLUSTER',
  'EXTENSION_CONFIG',
] as const;
export type ApplyTo = (typeof APPLY_TO)[number];

/** WAYPOINT: Istio's ambient waypoints, which Trellis does not run (such patches apply nowhere). */
export const PATCH_CONTEXTS = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT'] as const;
export type PatchContext = (typeof PATCH_CONTEXTS)[number];

export const OPERATIONS = [
  'MERGE',
  /** Istio 1.27: MERGE, with lists in the value replacing instead of appending. */
  'MERGE_AND_REPLACE_LIST',
  'ADD',
  'REMOVE',
  'INSERT_BEFORE',
  'INSERT_AFTER',
  'INSERT_FIRST',
  'REPLACE',
] as const;
export type PatchOperation = (typeof OPERATIONS)[number];

export const FILTER_CLASSES = ['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'] as const;
export const ROUTE_ACTIONS = ['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE'] as const;

export interface ListenerMatch {
  portNumber?: number;
  name?: string;
  filterChain?: {
    name?: string;
    sni?: string;
    transportProtocol?: string;
    applicationProtocols?: string;
    destinationPort?: number;
    filter?: { name?: string; subFilter?: { name?: string } };
  };
}

export interface RouteConfigurationMatch {
  portNumber?: number;
  portName?: string;
  gateway?: string;
  name?: string;
  vhost?: {
    name?: string;
    /** A domain the virtual host serves (Istio 1.22+). */
    domainName?: string;
    route?: { name?: string; action?: (typeof ROUTE_ACTIONS)[number] };
  };
}

export interface ClusterMatch {
  portNumber?: number;
  service?: string;
  subset?: string;
  name?: string;
}

export interface EnvoyConfigObjectMatch {
  context?: PatchContext;
  proxy?: { proxyVersion?: string; metadata?: Record<string, string> };
  listener?: ListenerMatch;
  routeConfiguration?: RouteConfigurationMatch;
  cluster?: ClusterMatch;
  /** Istio's ambient waypoint match (context WAYPOINT). */
  waypoint?: Record<string, unknown>;
}

export interface EnvoyConfigObjectPatch {
  applyTo: ApplyTo;
  match?: EnvoyConfigObjectMatch;
  patch: {
    operation: PatchOperation;
    /** proto3 JSON of the message `applyTo` names (absent only for REMOVE). */
    value?: Record<string, unknown>;
    filterClass?: (typeof FILTER_CLASSES)[number];
  };
}

export interface EnvoyFilterTargetRef {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface EnvoyFilterSpec {
  workloadSelector?: { labels?: Record<string, string> };
  targetRefs?: EnvoyFilterTargetRef[];
  priority?: number;
  configPatches?: EnvoyConfigObjectPatch[];
}

export type EnvoyFilterResource = Resource<EnvoyFilterSpec>;
