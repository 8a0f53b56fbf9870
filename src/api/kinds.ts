/**
 * The registry of resource kinds Trellis accepts. Each kind names its API group, the versions
 * accepted as written, and the validator of its spec. Adding a kind is one registerKind call
 * (see the list at the bottom of this file).
 */
import { TrellisError, type Problems } from '../core/errors.js';
import {
  CORE_GROUP,
  SECRET_FIELDS,
  SECRET_KIND,
  redactSecretSpec,
  validateSecret,
} from './kubernetes/secret.js';
import { NETWORKING_GROUP } from './networking/types.js';
import { validateDestinationRule } from './networking/validate-destination-rule.js';
import { validateGateway } from './networking/validate-gateway.js';
import { validateServiceEntry, validateWorkloadEntry } from './networking/validate-service-entry.js';
import { validateSidecar } from './networking/validate-sidecar.js';
import { validateEnvoyFilter } from './networking/envoy-filter-validate.js';
import { validateVirtualService } from './networking/validate-virtual-service.js';
import { TRELLIS_GROUP, TRELLIS_VERSIONS } from './trellis/types.js';
import { validateRateLimit } from './trellis/validate-rate-limit.js';
import { validateMesh } from './trellis/mesh.js';
import { validateTrafficFilter } from './trellis/traffic-filter-validate.js';
import { ROUTER_KIND, ROUTER_LEGACY_GROUP, ROUTER_LEGACY_VERSIONS } from './trellis/router.js';
import { validateRouter } from './trellis/router-validate.js';
import { SECURITY_KINDS } from './security/kinds.js';
import { EXTENSIONS_GROUP, refusedKindMessage } from './extensions/unsupported.js';
import { validateWorkloadGroup } from './networking/workload-group.js';
import { validateProxyConfig } from './networking/proxy-config.js';
import { GATEWAY_API_KINDS } from './gateway/kinds.js';
import { NAMESPACE_FIELDS, NAMESPACE_KIND, validateNamespace } from './kubernetes/namespace.js';
import { TELEMETRY_GROUP, TELEMETRY_KIND, TELEMETRY_VERSIONS } from './telemetry/types.js';
import { validateTelemetry } from './telemetry/validate.js';

/** Reports every problem of `spec` into `problems`, with paths starting at `path` (`spec`). */
export type SpecValidator = (spec: unknown, problems: Problems, path: string) => void;

export interface KindDefinition {
  group: string;
  /** Accepted as written; the first is the preferred (newest) one. */
  versions: readonly string[];
  kind: string;
  namespaced: boolean;
  validate: SpecValidator;
  /**
   * Kubernetes core kinds (Secret) keep their content beside metadata instead of under `spec`:
   * these top-level fields are read into the resource's `spec`, validated with paths from the
   * document root (`data.tls.key`), and put back in place by manifestOf().
   */
  topLevel?: readonly string[];
  /** The spec as it may be shown outside the store (API answers, `trellis get`): secrets removed. */
  redact?: (spec: unknown) => unknown;
  /** Other groups the kind is accepted under, as written (a resource's original home). */
  aliases?: readonly { group: string; versions: readonly string[] }[];
  /**
   * The kind as documents write it, when it differs from `kind`: two groups name a kind alike
   * (the Gateway API's `Gateway` beside Istio's), so one is stored under another name (Istio's
   * own internal name, `KubernetesGateway`) and written back under this one.
   */
  writtenKind?: string;
  /** A document without `spec` is valid (an empty spec), as Istio's CRD schema allows. */
  specOptional?: boolean;
}

/**
 * Istio groups: a resource of one of these we do not implement is an error (Trellis refuses
 * what it does not support rather than ignoring it). Resources of other groups (Deployments,
 * Services in the same file) are skipped with a warning.
 */
const RECOGNISED_GROUPS = new Set([
  'networking.istio.io',
  'security.istio.io',
  'telemetry.istio.io',
  'trellis.io',
  EXTENSIONS_GROUP,
]);

const byKind = new Map<string, KindDefinition>();

export function registerKind(def: KindDefinition): void {
  if (byKind.has(def.kind)) {
    throw new TrellisError('TRELLIS_INTERNAL', `kind ${def.kind} is registered twice`);
  }
  if (def.versions.length === 0) {
    throw new TrellisError('TRELLIS_INTERNAL', `kind ${def.kind} is registered without versions`);
  }
  byKind.set(def.kind, Object.freeze({ ...def, versions: Object.freeze([...def.versions]) }));
  // The core group also holds the Kubernetes kinds Trellis does not read (Service, ConfigMap):
  // those stay skipped with a warning, as before Secret was registered.
  if (def.group !== CORE_GROUP) RECOGNISED_GROUPS.add(def.group);
  for (const a of def.aliases ?? []) RECOGNISED_GROUPS.add(a.group);
}

export function registeredKinds(): KindDefinition[] {
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

/** The definition of a kind, by kind name alone (kind names are unique across groups). */
export function findKind(kind: string): KindDefinition | undefined {
  return byKind.get(kind);
}

/** `networking.istio.io/v1`, or `v1` for the core group. */
export function joinApiVersion(group: string, version: string): string {
  return group === CORE_GROUP ? version : `${group}/${version}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export type KindLookup =
  | { ok: true; def: KindDefinition }
  /** `skip`: not a mesh resource at all (e.g. apps/v1 Deployment); report as a warning. */
  | { ok: false; skip: boolean; path: 'apiVersion' | 'kind'; message: string };

/** Resolves `apiVersion` + `kind` as written in a document. */
export function lookupKind(apiVersion: string, kind: string): KindLookup {
  const { group, version } = splitApiVersion(apiVersion);
  let def = byKind.get(kind);
  const alias = def?.aliases?.find((a) => a.group === group);
  if (def !== undefined && alias !== undefined) {
    const aliased = def;
    if (alias.versions.includes(version)) return { ok: true, def };
    return {
      ok: false,
      skip: false,
      path: 'apiVersion',
      message: `${kind} does not exist in version ${JSON.stringify(version)} of ${group}; expected one of ${[...alias.versions.map((v) => joinApiVersion(group, v)), ...aliased.versions.map((v) => joinApiVersion(aliased.group, v))].join(', ')}`,
    };
  }
  if (def === undefined || def.group !== group) {
    def = [...byKind.values()].find((d) => d.group === group && d.writtenKind === kind) ?? def;
  }
  if (def === undefined || def.group !== group) {
    if (!RECOGNISED_GROUPS.has(group)) {
      return {
        ok: false,
        skip: true,
        path: 'kind',
        message: `skipped: ${kind} (${apiVersion}) is not a resource Trellis reads`,
      };
    }
    const refused = refusedKindMessage(group, kind);
    if (refused !== undefined) return { ok: false, skip: false, path: 'kind', message: refused };
    const known = registeredKinds()
      .filter((d) => d.group === group)
      .map((d) => d.writtenKind ?? d.kind);
    return {
      ok: false,
      skip: false,
      path: 'kind',
      message: `unknown kind ${JSON.stringify(kind)} in ${group}; ${known.length ? `supported kinds: ${known.join(', ')}` : 'no kinds of this group are supported yet'}`,
    };
  }
  if (!def.versions.includes(version)) {
    return {
      ok: false,
      skip: false,
      path: 'apiVersion',
      message: `${def.writtenKind ?? kind} does not exist in version ${JSON.stringify(version)}${group === CORE_GROUP ? '' : ` of ${group}`}; expected one of ${def.versions.map((v) => joinApiVersion(group, v)).join(', ')}`,
    };
  }
  return { ok: true, def };
}

// ---------------------------------------------------------------------------------------------
// Built-in kinds. One line each.
// ---------------------------------------------------------------------------------------------

const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
const net = { group: NETWORKING_GROUP, versions: ISTIO_VERSIONS, namespaced: true } as const;

registerKind({ ...net, kind: 'VirtualService', validate: validateVirtualService });
registerKind({ ...net, kind: 'DestinationRule', validate: validateDestinationRule });
registerKind({ ...net, kind: 'Gateway', validate: validateGateway });
registerKind({ ...net, kind: 'ServiceEntry', validate: validateServiceEntry });
registerKind({ ...net, kind: 'WorkloadEntry', validate: validateWorkloadEntry });
registerKind({ ...net, kind: 'Sidecar', validate: validateSidecar });
registerKind({ ...net, kind: 'WorkloadGroup', validate: validateWorkloadGroup });
registerKind({
  ...net,
  versions: ['v1beta1'],
  kind: 'ProxyConfig',
  validate: validateProxyConfig,
  specOptional: true,
});
// v1alpha3 only, as Istio serves it; patches are applied by xds/translate/envoy-filter.
registerKind({ ...net, versions: ['v1alpha3'], kind: 'EnvoyFilter', validate: validateEnvoyFilter });

const trellis = { group: TRELLIS_GROUP, versions: TRELLIS_VERSIONS, namespaced: true } as const;

registerKind({ ...trellis, kind: 'RateLimit', validate: validateRateLimit });
registerKind({ ...trellis, kind: 'Mesh', validate: validateMesh });
registerKind({ ...trellis, kind: 'TrafficFilter', validate: validateTrafficFilter });
registerKind({
  ...trellis,
  kind: ROUTER_KIND,
  validate: validateRouter,
  aliases: [{ group: ROUTER_LEGACY_GROUP, versions: ROUTER_LEGACY_VERSIONS }],
});

// security.istio.io: PeerAuthentication, AuthorizationPolicy, RequestAuthentication, enforced
// through the translation in xds/translate/security (RBAC, jwt_authn) and mTLS.
for (const def of SECURITY_KINDS) registerKind(def);
export { SECURITY_KINDS };

// Kubernetes' own Secret, read as Istio's gateways read it (TLS credentials for credentialName).
registerKind({
  group: CORE_GROUP,
  versions: ['v1'],
  kind: SECRET_KIND,
  namespaced: true,
  validate: validateSecret,
  topLevel: SECRET_FIELDS,
  redact: redactSecretSpec,
});

// Kubernetes' Namespace, read for its labels (Gateway API allowedRoutes namespace selectors).
registerKind({
  group: CORE_GROUP,
  versions: ['v1'],
  kind: NAMESPACE_KIND,
  namespaced: false,
  validate: validateNamespace,
  topLevel: NAMESPACE_FIELDS,
});

// gateway.networking.k8s.io: the Kubernetes Gateway API, converted into Istio Gateways and
// VirtualServices by the gateway-api derivation (controllers/gateway-api).
for (const def of GATEWAY_API_KINDS) registerKind(def);

// telemetry.istio.io: tracing, access logging and metrics overrides (xds/translate/telemetry).
registerKind({
  group: TELEMETRY_GROUP,
  versions: TELEMETRY_VERSIONS,
  kind: TELEMETRY_KIND,
  namespaced: true,
  validate: validateTelemetry,
});
