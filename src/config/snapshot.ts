import { resourceKey, type Resource } from '../api/resource.js';
import type { ConfigSnapshot } from './types.js';

/** Immutable ConfigSnapshot over a set of resources; lists sorted by namespace then name. */
export class FrozenSnapshot implements ConfigSnapshot {
  private readonly byKind = new Map<string, readonly Resource[]>();
  private readonly byKey = new Map<string, Resource>();

  constructor(
    readonly revision: number,
    resources: Iterable<Resource>,
  ) {
    const grouped = new Map<string, Resource[]>();
    for (const r of resources) {
      deepFreeze(r);
      this.byKey.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), r);
      let list = grouped.get(r.kind);
      if (!list) grouped.set(r.kind, (list = []));
      list.push(r);
    }
    for (const [kind, list] of grouped) {
      list.sort(
        (a, b) =>
          a.metadata.namespace.localeCompare(b.metadata.namespace) ||
          a.metadata.name.localeCompare(b.metadata.name),
      );
      this.byKind.set(kind, Object.freeze(list));
    }
    Object.freeze(this);
  }

  list(kind: string): readonly Resource[] {
    return this.byKind.get(kind) ?? [];
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.byKey.get(resourceKey(kind, namespace, name));
  }

  all(): Resource[] {
    return [...this.byKey.values()];
  }
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A snapshot's resources of one kind, optionally only one namespace's. */
export function listIn(snapshot: ConfigSnapshot, kind: string, namespace?: string): readonly Resource[] {
  const all = snapshot.list(kind);
  return namespace === undefined ? all : all.filter((r) => r.metadata.namespace === namespace);
}
