import http from 'node:http';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { MetricsRegistry } from '../core/metrics.js';
import type { ConfigStore } from '../config/store.js';
import { contributionFromConfig } from '../registry/service-entries.js';
import { RegistrationSource, ServiceIndex } from '../registry/service-index.js';
import { Debouncer, DEFAULT_DEBOUNCE, type DebounceOptions } from '../xds/server/debounce.js';
import { AdsServer, type Translator } from '../xds/server/ads-server.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../xds/translate/index.js';
import type { Resource } from '../api/resource.js';
import { RATE_LIMIT_KIND, type RateLimitSpec } from '../api/trellis/types.js';
import { configWriterFor } from '../config/config-writer.js';
import { compileRateLimits } from '../controllers/ratelimit/compile.js';
import { buildRateLimitServiceConfig } from '../controllers/ratelimit/domain-config.js';
import { deriveSnapshot, type ConfigDerivation, type DerivedSnapshot } from '../controllers/derivation.js';
import { defaultDerivations } from '../controllers/derivations.js';
import { envoyFilterDerivation } from '../xds/translate/envoy-filter/derivation.js';
import type { ConfigSnapshot } from '../config/types.js';
import { buildApi } from './api-routes.js';
import type { ApiViews } from './api-views.js';
import { ConfigWarnings } from './config-warnings.js';
import { listenHttp } from './http-server.js';
import type { OutboundTrafficPolicyMode, PathNormalizationMode } from '../api/mesh-config.js';
import type { AuthzExtensionProvider } from '../api/security/extension-providers.js';
import { jwksRequests } from '../xds/translate/security/jwks-source.js';
import { REQUEST_AUTHENTICATION_KIND } from '../xds/translate/security/policy-select.js';
import { JwksResolver, type JwksResolverOptions } from './jwks-resolver.js';
import type { CertificateAuthority } from '../ca/authority.js';
import type { CredentialAuthority } from '../ca/credentials.js';
import { CaService } from './ca-service.js';
import * as grpc from '@grpc/grpc-js';
import { systemRandom, type Random } from '../core/random.js';
import { ServingCertificate } from './serving-certificate.js';
import { ConvergenceTracker } from './convergence-tracker.js';
import { revisionOfVersion, runningRevision, type StoreConvergence } from './convergence.js';
import type { ProxyStatus } from '../xds/server/status.js';
import { RouterRuntime } from './router-runtime.js';
import type { MeshTelemetry } from '../api/telemetry/mesh-telemetry.js';
import { startConsole, type ConsoleSetup } from './console/setup.js';
import { ConsoleAuth } from './console/auth.js';
import { checkWrite } from './write-guard.js';
import type { MeshProxyDefaults, ProxyIdentity } from '../api/networking/proxy-config.js';
import { proxyConfigState, resolveProxyConfig, type ResolvedProxyConfig } from './proxy-configs.js';
import { MetricsScraper } from './graph/scraper.js';
import { graphService, type GraphView } from './graph/graph-service.js';
import type { Etcd3 } from 'etcd3';
import { EtcdRegistrations } from './etcd-registrations.js';

export interface ControlPlaneOptions {
  config: ConfigStore;
  clock?: Clock;
  logger?: Logger;
  debounce?: DebounceOptions;
  domainSuffix?: string;
  pushConcurrency?: number;
  /** Where proxies reach the global rate limit service (`trellis ratelimit`); default 127.0.0.1:8081. */
  rateLimitService?: { host: string; port: number };
  /** Mesh config `pathNormalization` for every proxy's connection managers; default BASE. */
  pathNormalization?: PathNormalizationMode;
  /** Mesh config `outboundTrafficPolicy.mode` (a Sidecar's own overrides it); default ALLOW_ANY. */
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  /** Mesh config `extensionProviders` (ext_authz) that CUSTOM AuthorizationPolicies name. */
  extensionProviders?: readonly AuthzExtensionProvider[];
  /** Mesh config telemetry: providers, defaultProviders, legacy access log and tracing fields. */
  telemetry?: MeshTelemetry;
  /** JWKS fetching for RequestAuthentication `jwksUri` (refresh interval, fetch; tests). */
  jwks?: Pick<JwksResolverOptions, 'refreshMs' | 'retryMs' | 'fetch' | 'maxBytes'>;
  /** The translation the ADS server serves; default xds/translate's. Tests wrap it to inject bugs. */
  translator?: Translator<PushContext>;
  /**
   * The CA served to workloads on the xDS port (ca-service.ts); ca-service-state.ts loads or makes
   * one in the state directory. Absent: no CertificateService, and no mesh mTLS by default
   * (sidecars would have no certificates): inbound DISABLE and auto mTLS off unless config asks.
   */
  ca?: { authority: CertificateAuthority; credentials: CredentialAuthority; maxTtlSeconds?: number };
  /**
   * Istio's mesh mTLS defaults (PERMISSIVE inbound, auto mTLS). Default: on when `ca` is set, since
   * the workloads need certificates; a mesh whose certificates come from elsewhere sets it.
   */
  meshMtls?: boolean;
  /**
   * xDS and the CA over TLS as well (istiod's 15012), with a serving certificate from `ca`
   * (serving-certificate.ts). Needs `ca`; port 0 picks one.
   */
  secureXds?: { host: string; port: number; extraSans?: readonly string[]; ttlSeconds?: number };
  /** Renewal jitter of the serving certificate. */
  random?: Random;
  /** Steps from the written config to the served one (controllers/derivations.ts by default). */
  derivations?: readonly ConfigDerivation[];
  /** How long a disconnected proxy keeps counting as lagging in convergence reports; default 60 s. */
  forgetDisconnectedMs?: number;
  /**
   * The console (console/setup.ts): its tokens and audit file. Absent: the pages are still served
   * (bundled on first request) and its API answers 401 until tokens are configured.
   */
  console?: ConsoleSetup;
  /** Mesh config `defaultConfig` (concurrency, proxyMetadata): under every ProxyConfig. */
  proxyDefaults?: MeshProxyDefaults;
  /**
   * The service graph (`GET /v1/graph`): read from this Prometheus's query API when set, else from
   * the control plane's own scrape of every connected proxy every `graphScrapeIntervalMs` (5 s).
   */
  prometheusUrl?: string;
  graphScrapeIntervalMs?: number;
  /**
   * State shared with other replicas in etcd (`--store etcd://`): registrations live there
   * (etcd-registrations.ts) instead of in memory. The config store is `config` (an etcd store).
   */
  etcd?: { client: Etcd3; endpoints: readonly string[]; timeoutMs?: number };
}

export interface ControlPlaneAddresses {
  xds: { host: string; port: number };
  http: { host: string; port: number };
  /** The TLS port, when options.secureXds and a CA are set. */
  secureXds?: { host: string; port: number };
}

type ChangeReason = 'config' | 'registry' | 'jwks';

/**
 * One control plane: config store + service index -> push context -> ADS server, with the HTTP
 * API beside it. Every change (config edit, registration, expiry) goes through one debouncer,
 * then one new immutable push context, then per-proxy pushes of only what changed for them.
 */
export class ControlPlane {
  readonly index = new ServiceIndex();
  readonly registrations: RegistrationSource;
  /** Registrations in etcd, shared by every replica (options.etcd); the API uses these when set. */
  readonly sharedRegistrations: EtcdRegistrations | undefined;
  readonly metrics = new MetricsRegistry();
  readonly ads: AdsServer<PushContext>;
  /** The CertificateService, when options.ca is set. */
  readonly caService: CaService | undefined;
  /** Accepted config that is probably a mistake (see config-warnings.ts), per push. */
  readonly warnings: ConfigWarnings;
  /** The JWKS RequestAuthentications name, fetched and refreshed; a change pushes. */
  readonly jwks: JwksResolver;
  /** Scrapes every connected proxy's Istio metrics for the service graph (without --prometheus-url). */
  readonly scraper: MetricsScraper;
  private readonly graph: GraphView;
  private readonly debouncer: Debouncer<{ reason: ChangeReason; at: number }>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private httpServer: http.Server | undefined;
  /** The TLS port's certificate, while it serves. */
  servingCertificate: ServingCertificate | undefined;
  private unwatch: (() => void) | undefined;
  private ready = false;
  private readonly derivations: readonly ConfigDerivation[];
  private derived: { from: ConfigSnapshot; hosts: string; result: DerivedSnapshot } | undefined;
  private hostsOf: { snapshot: ReturnType<ServiceIndex['snapshot']>; hosts: string } | undefined;
  /** Which proxies left, and which served revision carried each store revision (convergence). */
  readonly convergence: ConvergenceTracker;
  /** The Router controller, its layer of derived resources and the config served (router-runtime.ts). */
  readonly routers: RouterRuntime;
  /** The console's audit trail, once started. */
  console: ReturnType<typeof startConsole> | undefined;

  constructor(readonly options: ControlPlaneOptions) {
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.scraper = new MetricsScraper({
      targets: () =>
        this.ads.status().map((p) => ({ id: p.proxy, adminAddress: p.adminAddress, peer: p.peer })),
      clock: this.clock,
      logger: this.logger.child('graph'),
      ...(options.graphScrapeIntervalMs !== undefined ? { intervalMs: options.graphScrapeIntervalMs } : {}),
    });
    this.graph = graphService(
      options.prometheusUrl !== undefined
        ? { prometheusUrl: options.prometheusUrl }
        : { scraper: this.scraper },
      this.clock,
    );
    // EnvoyFilter patches that do not decode are reported beside the derivations' problems.
    this.derivations = options.derivations ?? [
      ...defaultDerivations(options.domainSuffix ? { domainSuffix: options.domainSuffix } : {}),
      envoyFilterDerivation,
    ];
    this.routers = new RouterRuntime({
      user: options.config,
      clock: this.clock,
      logger: this.logger.child('router'),
      ...(options.domainSuffix ? { domainSuffix: options.domainSuffix } : {}),
      convergence: (revision) => this.convergence.report(revision, this.ads.status()),
      workloadLabels: (host) =>
        this.index
          .snapshot()
          .endpoints(host)
          .map((e) => e.labels),
    });
    this.convergence = new ConvergenceTracker({
      clock: this.clock,
      ...(options.forgetDisconnectedMs !== undefined ? { forgetAfterMs: options.forgetDisconnectedMs } : {}),
    });
    this.registrations = new RegistrationSource(this.index, {
      clock: this.clock,
      logger: this.logger.child('registry'),
      ...(options.domainSuffix ? { domainSuffix: options.domainSuffix } : {}),
    });
    this.sharedRegistrations = options.etcd
      ? new EtcdRegistrations({
          ...options.etcd,
          index: this.index,
          logger: this.logger.child('registry'),
          metrics: this.metrics,
          ...(options.domainSuffix ? { domainSuffix: options.domainSuffix } : {}),
        })
      : undefined;
    this.syncConfigServices();
    this.jwks = new JwksResolver({
      ...options.jwks,
      clock: this.clock,
      logger: this.logger.child('jwks'),
      // Unset only while constructing; the first push reads the snapshot anyway.
      onChange: () =>
        (this.debouncer as typeof this.debouncer | undefined)?.push({ reason: 'jwks', at: this.clock.now() }),
    });
    this.syncJwks();
    // Stores that read files say which file defines a resource (DirectoryConfigStore).
    const store = options.config as ConfigStore & {
      sourceFile?: (k: string, ns: string, n: string) => string | undefined;
    };
    this.warnings = new ConfigWarnings(this.clock, this.logger.child('config'), (kind, ns, name) =>
      store.sourceFile?.(kind, ns, name),
    );
    const initial = this.build();
    this.noteServed(initial);
    this.warnings.update(initial);
    this.caService = options.ca
      ? new CaService({ ...options.ca, metrics: this.metrics, logger: this.logger.child('ca') })
      : undefined;
    this.ads = new AdsServer<PushContext>({
      ...(this.caService ? { services: [this.caService.grpcService()] } : {}),
      translator: options.translator ?? { generate, affectedTypes },
      initial,
      clock: this.clock,
      logger: this.logger.child('xds'),
      metrics: this.metrics,
      ...(options.pushConcurrency ? { concurrency: options.pushConcurrency } : {}),
    });
    this.debouncer = new Debouncer(options.debounce ?? DEFAULT_DEBOUNCE, this.clock, (events) =>
      this.flush(events),
    );
    const configErrors = this.metrics.gauge(
      'trellis_config_errors',
      'Config documents currently rejected (the last good version keeps serving)',
    );
    const revision = this.metrics.gauge('trellis_config_revision', 'Config store revision');
    this.metrics.onCollect(() => {
      configErrors.set({}, options.config.errors().length);
      revision.set({}, options.config.revision);
    });
    this.unwatch = this.routers.served.watch(() => {
      this.syncConfigServices();
      this.syncJwks();
      this.debouncer.push({ reason: 'config', at: this.clock.now() });
    });
    this.index.onChange(() => this.debouncer.push({ reason: 'registry', at: this.clock.now() }));
    this.routers.reconcile();
  }

  /** Binds the xDS and HTTP servers; resolves with the bound addresses (port 0 picks one). */
  async start(
    xds: { host: string; port: number },
    httpAddr: { host: string; port: number },
  ): Promise<ControlPlaneAddresses> {
    // Proxies' first config carries the JWKS fetched at startup rather than reject-all keys
    // (each fetch is bounded by its rule's timeout).
    await this.jwks.settled();
    await this.sharedRegistrations?.start();
    if (this.jwks.snapshot() !== this.ads.current.security.jwks) this.flushNow();
    const xdsPort = await this.ads.listen(xds.host, xds.port);
    const secure = await this.listenSecure();
    if (this.options.prometheusUrl === undefined) this.scraper.start();
    const router = buildApi(this.apiViews(), this.logger);
    this.console = startConsole(router, this.apiViews(), {
      ...this.options.console,
      clock: this.clock,
      logger: this.logger.child('console'),
    });
    // /v1 writes from beyond this machine need an editor token (write-guard.ts).
    const writers = this.options.console?.tokens ? new ConsoleAuth(this.options.console.tokens) : undefined;
    router.setGuard((req, path) => {
      const verdict = checkWrite(
        {
          method: req.method ?? 'GET',
          path,
          remoteAddress: req.socket.remoteAddress,
          authorization: req.headers.authorization,
          host: req.headers.host,
          origin: req.headers.origin,
        },
        writers,
        httpAddr.host,
      );
      return verdict.ok ? undefined : verdict;
    });
    this.httpServer = router.createServer();
    const httpPort = await listenHttp(this.httpServer, httpAddr.host, httpAddr.port);
    this.ready = true;
    return {
      xds: { host: xds.host, port: xdsPort },
      http: { host: httpAddr.host, port: httpPort },
      ...(secure ? { secureXds: secure } : {}),
    };
  }

  /** The TLS port with a certificate from the CA, renewed while streams carry on. */
  private async listenSecure(): Promise<{ host: string; port: number } | undefined> {
    const want = this.options.secureXds;
    const ca = this.options.ca;
    if (!want) return undefined;
    if (!ca) throw new Error('xDS over TLS needs a CA (its serving certificate is signed by it)');
    const cert = new ServingCertificate({
      authority: ca.authority,
      ...(want.extraSans ? { extraSans: want.extraSans } : {}),
      ...(want.ttlSeconds !== undefined ? { ttlSeconds: want.ttlSeconds } : {}),
      clock: this.clock,
      random: this.options.random ?? systemRandom,
      logger: this.logger.child('xds-tls'),
    });
    await cert.start();
    this.servingCertificate = cert;
    // grpc-js names the first parameter caCertificateProvider but uses it as the identity one.
    const credentials = grpc.experimental.createCertificateProviderServerCredentials(
      cert.provider(),
      null,
      false,
    );
    const port = await this.ads.listenTls(want.host, want.port, credentials);
    return { host: want.host, port };
  }

  isReady(): boolean {
    return this.ready;
  }

  /** The narrow views the HTTP API is built on (api-views.ts). */
  apiViews(): ApiViews {
    const config = this.options.config;
    const routers = this.routers;
    return {
      debug: {
        isReady: () => this.ready,
        renderMetrics: () => this.metrics.render(),
        proxyStatus: () => this.proxyStatus(),
        configDump: (proxyId) => this.ads.configDump(proxyId),
        configProblems: () => [
          ...config.errors(),
          ...this.warnings.list(),
          ...this.derivedConfig().problems.map((p) => ({ ...p, at: 0 })),
        ],
        registry: () => this.index.snapshot(),
      },
      registrations: this.sharedRegistrations ?? this.registrations,
      config: {
        // Reads see the Router's derived resources; the revision stays the user's store's (what
        // writes answer and `trellis wait --for-revision` takes).
        store: {
          get revision() {
            return config.revision;
          },
          get: (kind, namespace, name) => this.routers.served.get(kind, namespace, name),
          list: (kind, namespace) => this.routers.served.list(kind, namespace),
        },
        get writer() {
          return routers.withOrigins(configWriterFor(config));
        },
        effective: () => this.derivedConfig(),
      },
      routers: { statuses: () => this.routers.controller.statuses() },
      proxyConfigs: { resolve: (proxy) => this.proxyConfigFor(proxy) },
      graph: this.graph,
      convergence: {
        report: (storeRevision) => this.storeConvergence(storeRevision),
      },
      rateLimits: {
        rateLimitConfig: () => {
          const snap = config.snapshot();
          const resources = snap.list(RATE_LIMIT_KIND) as Resource<RateLimitSpec>[];
          const limits = compileRateLimits(resources, this.options.domainSuffix);
          return { revision: snap.revision, ...buildRateLimitServiceConfig(limits) };
        },
      },
    };
  }

  /**
   * /debug/syncz rows, each with the store revision the proxy runs and, for a proxy that says
   * which ProxyConfig it started with, whether that is still the one it would get.
   */
  proxyStatus(): ProxyStatus[] {
    return this.ads.status().map((p) => ({
      ...p,
      configRevision: runningRevision(p),
      ...(p.startedProxyConfig
        ? {
            proxyConfig: proxyConfigState(
              p.startedProxyConfig,
              this.proxyConfigFor({ namespace: p.namespace, labels: p.labels ?? {} }),
            ),
          }
        : {}),
    }));
  }

  /** The ProxyConfig a proxy of this namespace and labels starts with (proxy-configs.ts). */
  proxyConfigFor(proxy: ProxyIdentity): ResolvedProxyConfig {
    return resolveProxyConfig(
      this.effectiveSnapshot(),
      proxy,
      this.ads.current.rootNamespace,
      this.options.proxyDefaults,
    );
  }

  /**
   * Whether the user's store at `storeRevision` (default: now) is in effect on every proxy: each
   * has ACKed, for every routing type, a push built from it or a later revision.
   */
  storeConvergence(storeRevision?: number): StoreConvergence {
    return this.convergence.storeReport(storeRevision, this.options.config.revision, this.ads.status());
  }

  private noteServed(push: PushContext): void {
    this.convergence.served(revisionOfVersion(push.version), this.options.config.revision);
  }

  get config(): ConfigStore {
    return this.options.config;
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.unwatch?.();
    this.routers.stop();
    this.debouncer.close();
    this.jwks.close();
    this.registrations.close();
    this.sharedRegistrations?.close();
    this.servingCertificate?.stop();
    await this.scraper.stop();
    const server = this.httpServer;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.ads.close();
  }

  /** Pushes the current state now, skipping the debounce (tests, `trellis apply --wait`). */
  flushNow(): void {
    this.flush([{ reason: 'config', at: this.clock.now() }]);
  }

  /**
   * The config this control plane serves: the store's snapshot after the derivations
   * (controllers/derivation.ts), computed once per store snapshot. A step that throws is skipped
   * and logged; its input passes through.
   */
  effectiveSnapshot(): ConfigSnapshot {
    return this.derivedConfig().snapshot;
  }

  private derivedConfig(): DerivedSnapshot {
    const from = this.routers.served.snapshot();
    // Derivations may ask which services exist (a Gateway API backendRef): derived again when the
    // set of service hosts changes, not on every endpoint change.
    const services = this.index.snapshot();
    // The host list is built once per index snapshot (this runs per syncz row and per push).
    if (this.hostsOf?.snapshot !== services)
      this.hostsOf = { snapshot: services, hosts: services.services.map((s) => s.hostname).join(',') };
    const hosts = this.hostsOf.hosts;
    if (this.derived?.from === from && this.derived.hosts === hosts) return this.derived.result;
    const result = deriveSnapshot(from, this.derivations, {
      hasService: (host) => services.service(host) !== undefined,
    });
    for (const f of result.failures)
      this.logger.error('a config derivation failed; its input is served as written', {
        derivation: f.derivation,
        error: errorMessage(f.error),
      });
    this.derived = { from, hosts, result };
    return result;
  }

  private syncConfigServices(): void {
    const snap = this.effectiveSnapshot();
    this.index.setSource(
      'config',
      contributionFromConfig(
        snap.list('ServiceEntry'),
        snap.list('WorkloadEntry'),
        this.options.domainSuffix,
      ),
    );
  }

  private syncJwks(): void {
    this.jwks.want(jwksRequests(this.effectiveSnapshot().list(REQUEST_AUTHENTICATION_KIND)));
  }

  private build(): PushContext {
    return buildPushContext(
      this.effectiveSnapshot(),
      this.index.snapshot(),
      {
        ...(this.options.domainSuffix ? { domainSuffix: this.options.domainSuffix } : {}),
        ...(this.options.rateLimitService ? { rateLimitService: this.options.rateLimitService } : {}),
        ...(this.options.pathNormalization ? { pathNormalization: this.options.pathNormalization } : {}),
        ...(this.options.outboundTrafficPolicy
          ? { outboundTrafficPolicy: this.options.outboundTrafficPolicy }
          : {}),
        // Mesh mTLS needs workload certificates, so it follows the CA: with one, Istio's defaults
        // (PERMISSIVE inbound, auto mTLS); without one, plaintext unless a PeerAuthentication or
        // DestinationRule asks for mTLS explicitly (which then fails closed).
        ...((this.options.meshMtls ?? this.options.ca !== undefined)
          ? this.options.ca
            ? { trustDomain: this.options.ca.authority.trustDomain }
            : {}
          : { autoMtls: false, defaultMtlsMode: 'DISABLE' as const }),
        ...(this.options.telemetry ? { telemetry: this.options.telemetry } : {}),
        security: {
          jwks: this.jwks.snapshot(),
          ...(this.options.extensionProviders ? { extensionProviders: this.options.extensionProviders } : {}),
        },
      },
      // The push being served, whose caches the next one reuses (unset while constructing).
      (this.ads as AdsServer<PushContext> | undefined)?.current,
    );
  }

  private flush(events: { reason: ChangeReason; at: number }[]): void {
    const since = Math.min(...events.map((e) => e.at));
    let next: PushContext;
    try {
      next = this.build();
    } catch (err) {
      // A translation bug must not take the control plane down: keep serving the last push.
      this.logger.error('building the push context failed; proxies keep their current config', {
        error: errorMessage(err),
      });
      return;
    }
    this.logger.debug('push', {
      version: next.version,
      reasons: [...new Set(events.map((e) => e.reason))].join(','),
      events: events.length,
    });
    this.ads.update(next, since);
    this.noteServed(next);
    this.warnings.update(next);
    this.routers.reconcile();
  }
}
