/**
 * What the HTTP routes may see of the control plane: small views, each with one concern, so a
 * route reads only what it serves and a test of it can pass a fake of a few lines. ControlPlane
 * builds the real ones (control-plane.ts, apiViews()).
 */
import type { ConfigError, ConfigStore } from '../config/store.js';
import type { ConfigWriter } from '../config/config-writer.js';
import type { ServiceIndexSnapshot } from '../registry/types.js';
import type { RegisteredInstance, Registration } from '../registry/service-index.js';
import type { ProxyStatus } from '../xds/server/status.js';
import type { ConfigWarning } from './config-warnings.js';
import type { Problem } from '../core/errors.js';
import type { ConfigSnapshot } from '../config/types.js';
import type { StoreConvergence } from './convergence.js';
import type { RouterStatus } from '../controllers/router/controller.js';
import type { ProxyIdentity } from '../api/networking/proxy-config.js';
import type { ResolvedProxyConfig } from './proxy-configs.js';
import type { GraphView } from './graph/graph-service.js';

/** /ready, /metrics and /debug/*: read-only state of the serving side. */
export interface DebugView {
  isReady(): boolean;
  /** Prometheus text exposition. */
  renderMetrics(): string;
  /** Per connected proxy and type: sent and ACKed versions, the last NACK. */
  proxyStatus(): readonly ProxyStatus[];
  /** What a proxy was last sent, Envoy config_dump shaped; undefined when not connected. */
  configDump(proxyId: string): object | undefined;
  /** Rejected config inputs, then warnings about accepted config. */
  configProblems(): readonly (ConfigError | ConfigWarning)[];
  /** Services and endpoints in the service index. */
  registry(): ServiceIndexSnapshot;
}

/**
 * /v1/registrations: instances that register and heartbeat (registry/RegistrationSource, or
 * controlplane/etcd-registrations.ts, whose writes go to etcd and so answer asynchronously).
 */
export interface RegistrationApi {
  register(input: Registration): string | Promise<string>;
  heartbeat(id: string): void | Promise<void>;
  deregister(id: string): boolean | Promise<boolean>;
  list(): RegisteredInstance[];
}

/** /v1/config: read the store, write through its writer (undefined when read-only). */
export interface ConfigApi {
  readonly store: Pick<ConfigStore, 'revision' | 'get' | 'list'>;
  readonly writer: ConfigWriter | undefined;
  /** The config as served (after the derivations) and their problems, for `?effective=true`. */
  readonly effective?: () => EffectiveConfig;
}

export interface EffectiveConfig {
  readonly snapshot: Pick<ConfigSnapshot, 'list' | 'get'>;
  readonly problems: readonly {
    derivation: string;
    source: { kind: string; namespace: string; name: string };
    problems: readonly Problem[];
  }[];
}

/** /v1/convergence: is the store at a revision in effect on every proxy (convergence.ts)? */
export interface ConvergenceView {
  report(storeRevision?: number): StoreConvergence;
}

/** /v1/routers: each Router's rollout (controllers/router/controller.ts). */
export interface RouterStatusView {
  statuses(): readonly RouterStatus[];
}

/** /v1/ratelimit/config: the global rate limit service's config, compiled from RateLimits. */
export interface RateLimitConfigView {
  rateLimitConfig(): { revision: number } & object;
}

/** /v1/proxy-config: the ProxyConfig a proxy starts with (proxy-configs.ts). */
export interface ProxyConfigView {
  resolve(proxy: ProxyIdentity): ResolvedProxyConfig;
}

/** Everything buildApi routes to. */
export interface ApiViews {
  readonly debug: DebugView;
  readonly registrations: RegistrationApi;
  readonly config: ConfigApi;
  readonly rateLimits: RateLimitConfigView;
  /** Absent in tests that do not need it: the route answers 404. */
  readonly convergence?: ConvergenceView;
  /** Absent in tests that do not need it: the route answers an empty list. */
  readonly routers?: RouterStatusView;
  /** Absent in tests that do not need it: the route answers 404. */
  readonly proxyConfigs?: ProxyConfigView;
  /** /v1/graph: the service graph from the proxies' Istio metrics (graph/graph-service.ts). */
  readonly graph?: GraphView;
}
