import type { Problem } from '../core/errors.js';
import type { Resource, SourceRef } from '../api/resource.js';
import type { ConfigSnapshot } from './types.js';

export type ChangeType = 'added' | 'updated' | 'deleted';

export interface ConfigChange {
  type: ChangeType;
  kind: string;
  namespace: string;
  name: string;
  /** The resource after the change (absent for deletions). */
  resource?: Resource;
  /** The resource before the change (absent for additions). */
  previous?: Resource;
}

/** One batch of changes that took the store from `revision - 1`-ish to `revision`. */
export interface ConfigEvent {
  revision: number;
  changes: readonly ConfigChange[];
}

/** A rejected input: the file or API write it came from, and every problem found in it. */
export interface ConfigError {
  source: SourceRef | { api: string };
  problems: readonly Problem[];
  /** Store time (ms since epoch) when it was rejected. */
  at: number;
  /** True when the last accepted version of the input keeps serving in its place. */
  servingLastGood?: boolean;
  /** Where that version was read from when it came from persisted state (after a restart). */
  lastGoodFrom?: string;
}

export type ConfigListener = (event: ConfigEvent) => void;

/** Read side of every config store (memory, files, etcd, Kubernetes). */
export interface ConfigStore {
  readonly revision: number;
  snapshot(): ConfigSnapshot;
  get(kind: string, namespace: string, name: string): Resource | undefined;
  list(kind: string, namespace?: string): readonly Resource[];
  /** Calls `listener` after every change; returns the function that stops watching. */
  watch(listener: ConfigListener): () => void;
  /** Inputs currently rejected (the last good version of what they replace keeps serving). */
  errors(): readonly ConfigError[];
}

export interface WriteOptions {
  /** Reject the write with TRELLIS_CONFLICT unless the stored resource has this resourceVersion. */
  expectedVersion?: string;
}

export interface WritableConfigStore extends ConfigStore {
  /** Validates and stores (create or replace). Throws TRELLIS_INVALID_CONFIG with every problem. */
  apply(resource: Resource, options?: WriteOptions): Resource;
  delete(kind: string, namespace: string, name: string): boolean;
}

/** Validates one resource; returns its problems (errors reject it, warnings do not). */
export type ResourceValidator = (resource: Resource) => Problem[];
