import { TrellisError, formatProblem } from '../core/errors.js';
import { resourceKey, type Resource } from '../api/resource.js';
import { FrozenSnapshot, listIn } from './snapshot.js';
import type {
  ConfigChange,
  ConfigError,
  ConfigEvent,
  ConfigListener,
  ResourceValidator,
  WritableConfigStore,
  WriteOptions,
} from './store.js';

/**
 * The embedded store: resources in memory, every write validated, every change a new revision
 * and an event. Also the base the file and etcd stores feed their parsed resources into.
 */
export class MemoryConfigStore implements WritableConfigStore {
  private items = new Map<string, Resource>();
  private listeners = new Set<ConfigListener>();
  private current: FrozenSnapshot = new FrozenSnapshot(0, []);
  private rejected: ConfigError[] = [];
  private rev = 0;

  constructor(
    private readonly validate: ResourceValidator = () => [],
    private readonly now: () => number = Date.now,
  ) {}

  get revision(): number {
    return this.rev;
  }

  snapshot(): FrozenSnapshot {
    return this.current;
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.items.get(resourceKey(kind, namespace, name));
  }

  list(kind: string, namespace?: string): readonly Resource[] {
    return listIn(this.current, kind, namespace);
  }

  watch(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  errors(): readonly ConfigError[] {
    return this.rejected;
  }

  /** Records a rejected input from outside (a file that failed to parse), or clears it. */
  setErrors(errors: ConfigError[]): void {
    this.rejected = errors;
  }

  apply(resource: Resource, options: WriteOptions = {}): Resource {
    const problems = this.validate(resource);
    const errors = problems.filter((p) => p.severity === 'error');
    const where = `${resource.kind}/${resource.metadata?.namespace ?? 'default'}/${resource.metadata?.name ?? '?'}`;
    if (errors.length > 0) {
      throw new TrellisError(
        'TRELLIS_INVALID_CONFIG',
        `${where} is invalid: ${errors.map(formatProblem).join('; ')}`,
        {
          path: errors[0]?.path,
        },
      );
    }
    const key = resourceKey(resource.kind, resource.metadata.namespace, resource.metadata.name);
    const previous = this.items.get(key);
    if (
      options.expectedVersion !== undefined &&
      previous?.metadata.resourceVersion !== options.expectedVersion
    ) {
      throw new TrellisError(
        'TRELLIS_CONFLICT',
        `${where} is at version ${previous?.metadata.resourceVersion ?? 'none'}, not ${options.expectedVersion}`,
      );
    }
    if (previous && sameContent(previous, resource)) return previous;
    const [stored] = this.commit([{ key, resource }]);
    return stored as Resource;
  }

  delete(kind: string, namespace: string, name: string): boolean {
    const key = resourceKey(kind, namespace, name);
    if (!this.items.has(key)) return false;
    this.commit([{ key, resource: undefined }]);
    return true;
  }

  /**
   * Replaces the whole content with `resources` (already validated), emitting one event with
   * the differences. Used by stores that re-read a source wholesale (a directory of files).
   */
  replaceAll(resources: readonly Resource[]): number {
    const next = new Map<string, Resource>();
    for (const r of resources) next.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), r);
    const writes: { key: string; resource: Resource | undefined }[] = [];
    for (const [key, r] of next) {
      const prev = this.items.get(key);
      if (!prev || !sameContent(prev, r)) writes.push({ key, resource: r });
    }
    for (const key of this.items.keys()) if (!next.has(key)) writes.push({ key, resource: undefined });
    if (writes.length === 0) return 0;
    this.commit(writes);
    return writes.length;
  }

  private commit(writes: { key: string; resource: Resource | undefined }[]): Resource[] {
    const revision = this.rev + 1;
    const changes: ConfigChange[] = [];
    const stored: Resource[] = [];
    for (const { key, resource } of writes) {
      const previous = this.items.get(key);
      if (resource === undefined) {
        if (!previous) continue;
        this.items.delete(key);
        const { kind, metadata } = previous;
        changes.push({ type: 'deleted', kind, namespace: metadata.namespace, name: metadata.name, previous });
        continue;
      }
      const copy: Resource = structuredClone(resource);
      copy.metadata.resourceVersion = String(revision);
      copy.metadata.creationTimestamp =
        previous?.metadata.creationTimestamp ??
        resource.metadata.creationTimestamp ??
        new Date(this.now()).toISOString();
      this.items.set(key, copy);
      stored.push(copy);
      changes.push({
        type: previous ? 'updated' : 'added',
        kind: copy.kind,
        namespace: copy.metadata.namespace,
        name: copy.metadata.name,
        resource: copy,
        ...(previous ? { previous } : {}),
      });
    }
    if (changes.length === 0) return stored;
    this.rev = revision;
    this.current = new FrozenSnapshot(revision, this.items.values());
    const event: ConfigEvent = { revision, changes };
    for (const l of this.listeners) l(event);
    return stored;
  }
}

/** Equal apart from store-managed metadata. */
function sameContent(a: Resource, b: Resource): boolean {
  const strip = (r: Resource) => ({
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: { ...r.metadata, resourceVersion: undefined, creationTimestamp: undefined },
    spec: r.spec,
  });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}
