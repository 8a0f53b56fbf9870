import type { Resource } from '../api/resource.js';

/** An immutable view of every valid resource at one store revision. */
export interface ConfigSnapshot {
  readonly revision: number;
  /** Resources of one kind (`VirtualService`), in stable order (namespace, then name). */
  list(kind: string): readonly Resource[];
  get(kind: string, namespace: string, name: string): Resource | undefined;
}
