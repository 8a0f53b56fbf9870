/**
 * The Router controller: for every Router in the user's config, walks its derived ServiceEntry,
 * DestinationRule and VirtualService toward the target (target.ts) one gated step at a time
 * (rollout.ts), writing each step into its own store layer, which the control plane reads under
 * the user's store. A Router that is deleted walks its resources to nothing. State (the step
 * waiting, since when) lives here; every decision is rollout.ts's.
 */
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { tryParseDuration } from '../../core/duration.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import { resourceKey, type Resource } from '../../api/resource.js';
import {
  DEFAULT_BRANCH_LABEL,
  DEFAULT_PRODUCTION_BRANCH,
  DEFAULT_ROLLOUT_TIMEOUT_MS,
  ROUTER_KIND,
  type RouterSpec,
} from '../../api/trellis/router.js';
import type { MemoryConfigStore } from '../../config/memory-store.js';
import type { ConfigSnapshot } from '../../config/types.js';
import type { ConvergenceReport, ProxyLag } from './convergence-report.js';
import { advance, INITIAL_STATE, written, type RolloutPhase, type RolloutState } from './rollout.js';
import { clashMessage, nameClashes, routerConflicts } from './conflicts.js';
import { OWNED_BY, routerHost, routerTarget, type RouterResources } from './target.js';
import { unbranchedWarnings } from './warnings.js';

export interface RouterControllerOptions {
  /** Where the derived resources are written (the control plane layers it over the user's store). */
  layer: MemoryConfigStore;
  clock: Clock;
  logger?: Logger;
  domainSuffix?: string;
  /** Is the served config at `revision` in effect on every proxy? */
  convergence(revision: number): ConvergenceReport;
  /** The served config's revision now (read right after a write: the step's revision). */
  servedRevision(): number;
  /** Labels of the endpoints known for a host (which sandbox branches have workloads). */
  workloadLabels(host: string): readonly Readonly<Record<string, string>>[];
}

export interface RouterStatus {
  namespace: string;
  name: string;
  host: string;
  phase: RolloutPhase;
  /** The Router's resourceVersion the target was computed from. */
  observedGeneration: string;
  /** The served store revision of the last step in effect everywhere (-1: none yet). */
  revision: number;
  /** The step waiting to be in effect, if any. */
  step?: string;
  message: string;
  lagging: readonly ProxyLag[];
  /**
   * The user's own resources for the same host (a Router owns its host's routing), or with the
   * Router's own kind, namespace and name (the Router does not write while one exists).
   */
  conflicts: readonly string[];
  /** What is served but likely not meant: endpoints of the host in no subset (warnings.ts). */
  warnings: readonly string[];
}

const KINDS = {
  serviceEntry: 'ServiceEntry',
  destinationRule: 'DestinationRule',
  virtualService: 'VirtualService',
} as const;

export class RouterController {
  private readonly states = new Map<string, RolloutState>();
  private readonly status = new Map<string, RouterStatus>();
  private readonly logger: Logger;

  constructor(private readonly options: RouterControllerOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** One pass over every Router (and every deleted one that still owns resources). */
  reconcile(config: ConfigSnapshot): void {
    const routers = new Map<string, Resource<RouterSpec>>();
    for (const r of config.list(ROUTER_KIND))
      routers.set(resourceKey(ROUTER_KIND, r.metadata.namespace, r.metadata.name), r as Resource<RouterSpec>);
    const owners = new Set(routers.keys());
    for (const kind of Object.values(KINDS))
      for (const r of this.options.layer.list(kind)) {
        const owner = r.metadata.annotations?.[OWNED_BY];
        if (owner !== undefined) owners.add(owner);
      }
    // A Router gone with nothing left to remove is forgotten (its status went with it).
    for (const key of [...this.states.keys()]) if (!owners.has(key)) this.states.delete(key);
    for (const key of [...this.status.keys()]) if (!routers.has(key)) this.status.delete(key);
    for (const key of owners) {
      try {
        this.reconcileOne(key, routers.get(key), config);
      } catch (err) {
        this.logger.error('router reconcile failed; it is retried on the next change', {
          router: key,
          error: errorMessage(err),
        });
      }
    }
  }

  /** Whether a rollout is under way (the control plane keeps ticking while one is). */
  busy(): boolean {
    return [...this.states.values()].some((s) => s.phase !== 'Ready' || s.waiting !== undefined);
  }

  statuses(): RouterStatus[] {
    return [...this.status.values()].sort(
      (a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name),
    );
  }

  private reconcileOne(key: string, router: Resource<RouterSpec> | undefined, config: ConfigSnapshot): void {
    const [, namespace = '', name = ''] = key.split('/');
    const current = this.current(key, namespace, name);
    const host = router ? routerHost(router, this.options.domainSuffix) : '';
    const labels = router ? this.options.workloadLabels(host) : [];
    const target: RouterResources = router
      ? routerTarget(router, {
          ...(this.options.domainSuffix ? { domainSuffix: this.options.domainSuffix } : {}),
          workloadLabels: labels,
        })
      : {};
    const timeoutMs =
      (router?.spec.rolloutTimeout && tryParseDuration(router.spec.rolloutTimeout)) ||
      DEFAULT_ROLLOUT_TIMEOUT_MS;
    const now = this.options.clock.now();
    // The user's resource with the Router's name would be replaced (the layer is served over
    // it): write nothing, and say which one to rename or delete. Not kept as the rollout's state,
    // so the Router resumes where it was once the clash is gone.
    const clashes = router ? nameClashes(config, key) : [];
    if (router && clashes.length > 0) {
      const prior = this.states.get(key) ?? INITIAL_STATE;
      if (this.status.get(key)?.phase !== 'Stalled')
        this.logger.warn('router blocked by a resource of the same name', { router: key, clashes });
      this.setStatus(key, router, host, labels, config, {
        ...prior,
        phase: 'Stalled',
        lagging: [],
        message: clashMessage(clashes, key),
      });
      return;
    }
    const decision = advance(this.states.get(key) ?? INITIAL_STATE, {
      current,
      target,
      now,
      timeoutMs,
      convergence: (rev) => this.options.convergence(rev),
    });
    let state = decision.state;
    if (decision.write) {
      for (const r of decision.write.put) this.options.layer.apply(r);
      for (const r of decision.write.remove)
        this.options.layer.delete(r.kind, r.metadata.namespace, r.metadata.name);
      const revision = this.options.servedRevision();
      state = written(state, decision.write, revision, now);
      this.logger.info('router step written', { router: key, step: decision.write.step, revision });
    }
    if (state.phase === 'Stalled' && this.states.get(key)?.phase !== 'Stalled')
      this.logger.warn('router rollout stalled', { router: key, reason: state.message });
    if (!router && state.phase === 'Ready' && state.waiting === undefined) {
      this.states.delete(key);
      this.status.delete(key);
      return;
    }
    this.states.set(key, state);
    if (router) this.setStatus(key, router, host, labels, config, state);
  }

  private setStatus(
    key: string,
    router: Resource<RouterSpec>,
    host: string,
    labels: readonly Readonly<Record<string, string>>[],
    config: ConfigSnapshot,
    state: RolloutState,
  ): void {
    const { namespace, name } = router.metadata;
    const warnings = unbranchedWarnings(
      labels,
      router.spec.branchLabel ?? DEFAULT_BRANCH_LABEL,
      router.spec.productionBranch ?? DEFAULT_PRODUCTION_BRANCH,
    );
    this.status.set(key, {
      namespace,
      name,
      host,
      phase: state.phase,
      observedGeneration: router.metadata.resourceVersion ?? '',
      revision: state.inEffectRevision,
      ...(state.waiting ? { step: state.waiting.step } : {}),
      message: warnings.length > 0 ? `${state.message}; warning: ${warnings.join('; ')}` : state.message,
      lagging: state.lagging,
      conflicts: routerConflicts(config, host, key),
      warnings,
    });
  }

  private current(owner: string, namespace: string, name: string): RouterResources {
    const out: RouterResources = {};
    for (const [field, kind] of Object.entries(KINDS) as [keyof RouterResources, string][]) {
      const r = this.options.layer.get(kind, namespace, name);
      if (r && r.metadata.annotations?.[OWNED_BY] === owner) out[field] = r;
    }
    return out;
  }
}
