/**
 * The Router controller as the control plane runs it: its store layer (what Routers derive,
 * written step by step) served over the user's store, a pass after every push, and while a
 * rollout waits on the proxies a pass on a short tick (ACKs are not events the control plane
 * hears of, so a waiting step is looked at again).
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { validateResource } from '../api/validate.js';
import type { ConfigWriter } from '../config/config-writer.js';
import { LayeredConfigStore } from '../config/layered-store.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import type { ConfigStore } from '../config/store.js';
import { RouterController, type RouterControllerOptions } from '../controllers/router/controller.js';
import { OWNED_BY } from '../controllers/router/target.js';

/** How often a rollout waiting on the proxies looks again. */
const TICK_MS = 50;

export interface RouterRuntimeOptions extends Pick<
  RouterControllerOptions,
  'convergence' | 'workloadLabels' | 'domainSuffix'
> {
  /** The user's config: Routers are read from it, and it is served under the Router layer. */
  user: ConfigStore;
  clock: Clock;
  logger: Logger;
}

export class RouterRuntime {
  /** What Routers derive; served over the user's store. */
  readonly layer = new MemoryConfigStore((r) => validateResource(r));
  /** The config served: the Router layer over the user's store. */
  readonly served: LayeredConfigStore;
  readonly controller: RouterController;
  private tick: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: RouterRuntimeOptions) {
    this.served = new LayeredConfigStore([this.layer, options.user]);
    this.controller = new RouterController({
      layer: this.layer,
      clock: options.clock,
      logger: options.logger,
      ...(options.domainSuffix ? { domainSuffix: options.domainSuffix } : {}),
      convergence: options.convergence,
      servedRevision: () => this.served.revision,
      workloadLabels: options.workloadLabels,
    });
  }

  /** One pass over every Router; another shortly while a rollout is under way. */
  reconcile(): void {
    this.tick?.cancel();
    this.tick = undefined;
    if (this.stopped) return;
    this.controller.reconcile(this.options.user.snapshot());
    if (this.controller.busy()) this.tick = this.options.clock.setTimeout(() => this.reconcile(), TICK_MS);
  }

  stop(): void {
    this.stopped = true;
    this.tick?.cancel();
    this.served.close();
  }

  /** `writer` with `origin` naming the Router a derived resource comes from (`get -o wide` SOURCE). */
  withOrigins(writer: ConfigWriter | undefined): ConfigWriter | undefined {
    if (writer === undefined) return undefined;
    const layer = this.layer;
    return {
      apply: (resources) => writer.apply(resources),
      delete: (kind, namespace, name) => writer.delete(kind, namespace, name),
      origin: (kind, namespace, name) =>
        layer.get(kind, namespace, name)?.metadata.annotations?.[OWNED_BY] ??
        writer.origin(kind, namespace, name),
    };
  }
}
