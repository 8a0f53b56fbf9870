import { registeredKinds } from '../api/kinds.js';
import { keyOf, type Resource } from '../api/resource.js';
import { FrozenSnapshot, listIn } from './snapshot.js';
import type { ConfigError, ConfigListener, ConfigStore } from './store.js';

export interface LayeredStoreOptions {
  /**
   * The layer API writes (`trellis apply`, `trellis delete`) go to (config-writer.ts); unset:
   * the layered store is read-only.
   */
  writable?: ConfigStore;
  /** Where the resources of a layer come from, for people (`trellis get -o wide`'s SOURCE). */
  sources?: ReadonlyMap<ConfigStore, string>;
}

/**
 * Several stores read as one: `trellis up` layers the resources it derives from the Mesh
 * manifest (ServiceEntries, Sidecars, the Gateway) over the user's watched directory. A resource
 * present in several layers is taken from the first, so the derived layer, listed first, keeps
 * the facts `up` owns (such as the gateway's bound port) true. Writes go to one layer, named
 * in the options, through that layer's writer (config-writer.ts).
 */
export class LayeredConfigStore implements ConfigStore {
  private current: FrozenSnapshot;
  private readonly listeners = new Set<ConfigListener>();
  private readonly unwatch: (() => void)[];

  constructor(
    readonly layers: readonly ConfigStore[],
    readonly options: LayeredStoreOptions = {},
  ) {
    if (options.writable !== undefined && !layers.includes(options.writable))
      throw new Error('LayeredConfigStore: the writable store must be one of its layers');
    this.current = this.build();
    this.unwatch = layers.map((layer) =>
      layer.watch((event) => {
        this.current = this.build();
        const next = { revision: this.current.revision, changes: event.changes };
        for (const l of this.listeners) l(next);
      }),
    );
  }

  /** Monotonic: the sum of the layers' revisions, each of which only grows. */
  get revision(): number {
    return this.current.revision;
  }

  snapshot(): FrozenSnapshot {
    return this.current;
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.current.get(kind, namespace, name);
  }

  list(kind: string, namespace?: string): readonly Resource[] {
    return listIn(this.current, kind, namespace);
  }

  watch(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first layer holding the resource: the one it is served from. */
  layerOf(kind: string, namespace: string, name: string): ConfigStore | undefined {
    return this.layers.find((l) => l.get(kind, namespace, name) !== undefined);
  }

  errors(): readonly ConfigError[] {
    return this.layers.flatMap((l) => l.errors());
  }

  close(): void {
    for (const u of this.unwatch) u();
  }

  private build(): FrozenSnapshot {
    const seen = new Map<string, Resource>();
    let revision = 0;
    for (const layer of this.layers) {
      revision += layer.revision;
      const snap = layer.snapshot();
      for (const { kind } of registeredKinds()) {
        for (const r of snap.list(kind)) if (!seen.has(keyOf(r))) seen.set(keyOf(r), r);
      }
    }
    return new FrozenSnapshot(revision, seen.values());
  }
}
