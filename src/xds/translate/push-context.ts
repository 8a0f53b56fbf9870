/**
 * The push context: one immutable snapshot of configuration and services, indexed for the
 * generators. Built once per change (not per proxy) from the previous one: indexes whose inputs
 * did not change are reused, and the memo of generated results is carried over, which is safe
 * because every memo key names every input of its result (see `PushIndex.cached`).
 */
import type { Resource } from '../../api/resource.js';
import { KIND } from '../../api/networking/types.js';
import { RATE_LIMIT_KIND, type RateLimitSpec } from '../../api/trellis/types.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { compileRateLimits, type CompiledRateLimit } from '../../controllers/ratelimit/compile.js';
import type { Endpoint, Service, ServiceIndexSnapshot } from '../../registry/types.js';
import { ServiceCatalog } from './catalog.js';
import {
  DestinationRuleIndex,
  SidecarIndex,
  VirtualServiceIndex,
  sameResources,
  type DestinationRuleResource,
  type GatewayResource,
  type SidecarResource,
  type VirtualServiceResource,
} from './config-index.js';
import { BoundedMemo, fingerprint } from './memo.js';
import { byCreation } from './selectors.js';
import { PEER_AUTHENTICATION_KIND, PeerAuthenticationIndex } from './security/peer-authn.js';
import type { OutboundTrafficPolicyMode, PathNormalizationMode } from '../../api/mesh-config.js';
import {
  AUTHORIZATION_POLICY_KIND,
  REQUEST_AUTHENTICATION_KIND,
  SecurityPolicyIndex,
} from './security/policy-select.js';
import { EMPTY_JWKS, type JwksSnapshot } from './security/jwks-source.js';
import type { AuthzExtensionProvider } from '../../api/security/extension-providers.js';
import { DEFAULT_MESH_TELEMETRY, type MeshTelemetry } from '../../api/telemetry/mesh-telemetry.js';

export type { DestinationRuleResource, GatewayResource, SidecarResource, VirtualServiceResource };
export { exportedTo, labelsMatch } from './selectors.js';

export interface PushContextOptions {
  /** DNS suffix of mesh-internal hosts (`cluster.local`). */
  domainSuffix?: string;
  /** Namespace whose Sidecar/DestinationRule apply mesh-wide (`istio-system`). */
  rootNamespace?: string;
  /** Most generated results kept (carried from push to push). */
  memoCapacity?: number;
  /**
   * Where proxies reach the global rate limit service (Envoy's RLS gRPC API). A service of
   * that name and port in the registry is used as is; otherwise proxies with global limits get
   * a cluster of their own for it. Default 127.0.0.1:8081 (`trellis ratelimit`'s default).
   */
  rateLimitService?: { host: string; port: number };
  /** Mesh config `pathNormalization.normalization` for every HTTP connection manager; BASE. */
  pathNormalization?: PathNormalizationMode;
  /** Mesh config `outboundTrafficPolicy.mode` where no Sidecar sets one; ALLOW_ANY (Istio). */
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  /**
   * Security inputs: the JWKS the control plane fetched for RequestAuthentications
   * (security/jwks-source.ts) and mesh config `extensionProviders` for CUSTOM authorization.
   */
  security?: { jwks?: JwksSnapshot; extensionProviders?: readonly AuthzExtensionProvider[] };
  /**
   * Mesh config `enableAutoMtls` (default true): clients send mTLS to endpoints labelled
   * `security.istio.io/tlsMode: istio` and plaintext to the rest, unless a DestinationRule says.
   */
  autoMtls?: boolean;
  /** The SPIFFE trust domain of workload identities (`cluster.local`), for SAN checks. */
  trustDomain?: string;
  /**
   * The inbound mTLS mode where no PeerAuthentication sets one: PERMISSIVE (Istio). A mesh
   * whose workloads have no certificates (no CA) passes DISABLE, with autoMtls false, so that
   * only an explicit policy asks for mTLS (and fails closed without certificates).
   */
  defaultMtlsMode?: 'PERMISSIVE' | 'DISABLE';
  /** Mesh config telemetry (providers, defaults, legacy fields); Istio's defaults when absent. */
  telemetry?: MeshTelemetry;
}

export interface PushContext {
  /** `CONFIG_REVISION.SERVICES_VERSION`; the version string xDS responses carry. */
  readonly version: string;
  readonly domainSuffix: string;
  readonly rootNamespace: string;
  readonly rateLimitService: { readonly host: string; readonly port: number };
  readonly pathNormalization: PathNormalizationMode;
  readonly outboundTrafficPolicy: OutboundTrafficPolicyMode;
  /** Security inputs; generator keys name the fingerprints of the JWKS they inline. */
  readonly security: {
    readonly jwks: JwksSnapshot;
    readonly extensionProviders: readonly AuthzExtensionProvider[];
  };
  readonly autoMtls: boolean;
  readonly trustDomain: string;
  readonly defaultMtlsMode: 'PERMISSIVE' | 'DISABLE';
  readonly telemetry: MeshTelemetry;
  /** Indexes and caches the generators use; not part of the server-facing contract. */
  readonly index: PushIndex;
}

function sortedList<S>(resources: readonly Resource[]): Resource<S>[] {
  return [...(resources as Resource<S>[])].sort(byCreation);
}

export class PushIndex {
  readonly catalog: ServiceCatalog;
  readonly virtualServices: VirtualServiceIndex;
  readonly destinationRules: DestinationRuleIndex;
  readonly sidecars: SidecarIndex;
  readonly gateways: readonly GatewayResource[];
  /** PeerAuthentication policies by namespace (mTLS of sidecar inbound, auto mTLS hints). */
  readonly peerAuthentications: PeerAuthenticationIndex;
  /** Every RateLimit's limits, compiled (oldest resource first). */
  readonly rateLimits: readonly CompiledRateLimit[];
  /** AuthorizationPolicies and RequestAuthentications, for selection (security/policy-select.ts). */
  readonly security: SecurityPolicyIndex;
  /** Generated results keyed by their full input key; shared along a chain of pushes. */
  readonly memo: BoundedMemo<unknown>;
  private readonly rateLimitSource: readonly Resource[];
  private readonly gatewaySource: readonly Resource[];
  /** Results derived from this push alone (keys may leave out what the push fixes). */
  private readonly local = new Map<string, unknown>();

  /**
   * `previous`: the index of the previous push, built with the same options; every part whose
   * input is the very same (immutable) object or list of objects is reused.
   */
  constructor(
    readonly config: ConfigSnapshot,
    readonly registry: ServiceIndexSnapshot,
    memo: BoundedMemo<unknown>,
    domainSuffix: string,
    previous: PushIndex | undefined,
  ) {
    this.memo = memo;
    this.catalog = previous?.registry === registry ? previous.catalog : new ServiceCatalog(registry);
    const vs = config.list(KIND.VirtualService);
    this.virtualServices =
      previous !== undefined && sameResources(previous.virtualServices.source, vs)
        ? previous.virtualServices
        : new VirtualServiceIndex(vs, sortedList(vs), domainSuffix);
    const dr = config.list(KIND.DestinationRule);
    this.destinationRules =
      previous !== undefined && sameResources(previous.destinationRules.source, dr)
        ? previous.destinationRules
        : new DestinationRuleIndex(dr, sortedList(dr), domainSuffix);
    const sc = config.list(KIND.Sidecar);
    this.sidecars =
      previous !== undefined && sameResources(previous.sidecars.source, sc)
        ? previous.sidecars
        : new SidecarIndex(sc, sortedList(sc));
    this.gatewaySource = config.list(KIND.Gateway);
    this.gateways =
      previous !== undefined && sameResources(previous.gatewaySource, this.gatewaySource)
        ? previous.gateways
        : sortedList(this.gatewaySource);
    const pa = config.list(PEER_AUTHENTICATION_KIND);
    this.peerAuthentications =
      previous !== undefined && sameResources(previous.peerAuthentications.source, pa)
        ? previous.peerAuthentications
        : new PeerAuthenticationIndex(pa);
    this.rateLimitSource = config.list(RATE_LIMIT_KIND);
    this.rateLimits =
      previous !== undefined && sameResources(previous.rateLimitSource, this.rateLimitSource)
        ? previous.rateLimits
        : compileRateLimits(this.rateLimitSource as Resource<RateLimitSpec>[], domainSuffix);
    this.security = new SecurityPolicyIndex(
      config.list(AUTHORIZATION_POLICY_KIND),
      config.list(REQUEST_AUTHENTICATION_KIND),
      previous?.security,
    );
  }

  get services(): readonly Service[] {
    return this.catalog.services;
  }

  service(hostname: string): Service | undefined {
    return this.catalog.service(hostname);
  }

  endpoints(hostname: string): readonly Endpoint[] {
    return this.catalog.endpoints(hostname);
  }

  /** Fingerprint of a service's endpoint set; computed once per registry snapshot. */
  endpointsFingerprint(hostname: string): string {
    return this.catalog.endpointsFingerprint(hostname);
  }

  /** Instances whose address is one of `addresses`: the workloads a sidecar sits beside. */
  instancesAt(addresses: readonly string[]): Endpoint[] {
    return this.catalog.instancesAt(addresses);
  }

  /**
   * Memoized across pushes: `key` must name every input `build` reads, including those that
   * are the same for every proxy of a push (use the indexes' fingerprints for "all services",
   * "all rules", "all VirtualServices"). A key that forgets one serves a stale result to a
   * later push.
   */
  cached<T>(key: string, build: () => T): T {
    return this.memo.getOrBuild(key, build) as T;
  }

  /** Memoized for this push only: `key` may leave out what this push's snapshots fix. */
  perPush<T>(key: string, build: () => T): T {
    const found = this.local.get(key);
    if (found !== undefined || this.local.has(key)) return found as T;
    const value = build();
    this.local.set(key, value);
    return value;
  }
}

export const DEFAULT_RATE_LIMIT_SERVICE = { host: '127.0.0.1', port: 8081 } as const;
const DEFAULT_MEMO_CAPACITY = 100_000;

/** What every memo key takes for granted; a previous push with other options shares nothing. */
const lineage = new WeakMap<PushContext, string>();

/**
 * Builds the push context of a change. Pass the previous push context (the one proxies are
 * being served from) to reuse its indexes and generated results wherever their inputs are
 * unchanged; without it everything is built afresh.
 */
export function buildPushContext(
  config: ConfigSnapshot,
  services: ServiceIndexSnapshot,
  options: PushContextOptions = {},
  previous?: PushContext,
): PushContext {
  const domainSuffix = options.domainSuffix ?? 'cluster.local';
  const rootNamespace = options.rootNamespace ?? 'istio-system';
  const rateLimitService = Object.freeze({ ...(options.rateLimitService ?? DEFAULT_RATE_LIMIT_SERVICE) });
  const capacity = options.memoCapacity ?? DEFAULT_MEMO_CAPACITY;
  const pathNormalization = options.pathNormalization ?? 'BASE';
  const outboundTrafficPolicy = options.outboundTrafficPolicy ?? 'ALLOW_ANY';
  const autoMtls = options.autoMtls ?? true;
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const defaultMtlsMode = options.defaultMtlsMode ?? 'PERMISSIVE';
  // Options every generated result depends on: a change starts the caches afresh.
  const extensionProviders = options.security?.extensionProviders ?? [];
  const telemetry = options.telemetry ?? DEFAULT_MESH_TELEMETRY;
  const fixed = JSON.stringify([
    domainSuffix,
    rootNamespace,
    rateLimitService,
    capacity,
    pathNormalization,
    outboundTrafficPolicy,
    extensionProviders,
    autoMtls,
    trustDomain,
    defaultMtlsMode,
    telemetry,
  ]);
  const carried = previous !== undefined && lineage.get(previous) === fixed ? previous.index : undefined;
  const memo = carried?.memo ?? new BoundedMemo<unknown>(capacity);
  memo.advance();
  const index = new PushIndex(config, services, memo, domainSuffix, carried);
  const push: PushContext = Object.freeze({
    version: `${config.revision}.${services.version}`,
    domainSuffix,
    rateLimitService,
    pathNormalization,
    outboundTrafficPolicy,
    autoMtls,
    trustDomain,
    defaultMtlsMode,
    rootNamespace,
    telemetry,
    security: Object.freeze({ jwks: options.security?.jwks ?? EMPTY_JWKS, extensionProviders }),
    index,
  });
  lineage.set(push, fixed);
  return push;
}

export function resourceFp(r: Resource): string {
  return fingerprint(r);
}
