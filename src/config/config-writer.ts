/**
 * Writes that come from the HTTP API (`trellis apply`, `trellis delete`), for every kind of store
 * a control plane can run on:
 *
 * - a memory store (tests, embedded use): the write goes straight into the store;
 * - a directory store (`trellis control-plane --config DIR`): each applied resource becomes its
 *   own file `DIR/applied/<kind>.<namespace>.<name>.yaml`, then the directory is re-read before
 *   the write is answered. The files are ordinary config files, so the watcher, the API and a
 *   restart all agree on what is served, and a user can read or edit what was applied. A
 *   resource defined in a file the user wrote is never overwritten: apply and delete answer
 *   TRELLIS_CONFLICT naming that file.
 *
 * - a layered store (`trellis up`: what it derives from mesh.yaml over the config directory):
 *   writes go to the layer the store names as writable, through that layer's own writer (so
 *   under `up` they are files in the config directory too). A resource served from another
 *   layer (the Gateway, ServiceEntries and Sidecars `up` makes) is not written: the layer that
 *   owns it wins, so the write would never serve; the error says where it comes from.
 *
 * Resources handed to a writer are already validated (src/api); the stores validate again.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { TrellisError, formatProblem } from '../core/errors.js';
import { keyOf, resourceKey, type Resource } from '../api/resource.js';
import { findKind } from '../api/kinds.js';
import { manifestOf } from '../api/validate.js';
import { DirectoryConfigStore } from './directory-store.js';
import { LayeredConfigStore } from './layered-store.js';
import type { ConfigStore, WritableConfigStore } from './store.js';

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  /** Store revision once every resource is served. */
  revision: number;
  /** The stored resources (with resourceVersion and creationTimestamp), in request order. */
  applied: { resource: Resource; outcome: ApplyOutcome }[];
}

export interface DeleteResult {
  revision: number;
  deleted: Resource;
}

export interface ConfigWriter {
  /** Stores every resource, or (on a conflict) none of them. */
  apply(resources: readonly Resource[]): Promise<ApplyResult>;
  /** Throws TRELLIS_NOT_FOUND, or TRELLIS_CONFLICT when a user-written file defines it. */
  delete(kind: string, namespace: string, name: string): Promise<DeleteResult>;
  /** The file a served resource comes from, when it comes from one. */
  origin(kind: string, namespace: string, name: string): string | undefined;
}

/** Sub-directory of a config directory holding one file per applied resource. */
export const APPLIED_DIR = 'applied';

const writers = new WeakMap<ConfigStore, ConfigWriter>();

/**
 * The writer for `store` (one per store, so writes to it are serialized), or undefined when the
 * store cannot be written through the API (e.g. a read-only Kubernetes source).
 */
export function configWriterFor(store: ConfigStore): ConfigWriter | undefined {
  let w = writers.get(store);
  if (w) return w;
  // Stores with a writer of their own (etcd-store.ts), found without importing them.
  const own = (store as ConfigStore & { configWriter?: () => ConfigWriter }).configWriter;
  if (typeof own === 'function') w = own.call(store);
  else if (store instanceof DirectoryConfigStore) w = new DirectoryConfigWriter(store);
  else if (store instanceof LayeredConfigStore) {
    const inner = store.options.writable && configWriterFor(store.options.writable);
    if (!inner) return undefined;
    w = new LayeredConfigWriter(store, inner);
  } else if (isWritable(store)) w = new MemoryConfigWriter(store);
  else return undefined;
  writers.set(store, w);
  return w;
}

function isWritable(store: ConfigStore): store is WritableConfigStore {
  const s = store as Partial<WritableConfigStore>;
  return typeof s.apply === 'function' && typeof s.delete === 'function';
}

function outcome(before: Resource | undefined, after: Resource): ApplyOutcome {
  if (!before) return 'created';
  return before.metadata.resourceVersion === after.metadata.resourceVersion ? 'unchanged' : 'configured';
}

function notFound(kind: string, namespace: string, name: string): TrellisError {
  return new TrellisError('TRELLIS_NOT_FOUND', `${kind} ${namespace}/${name} not found`);
}

export class MemoryConfigWriter implements ConfigWriter {
  constructor(private readonly store: WritableConfigStore) {}

  apply(resources: readonly Resource[]): Promise<ApplyResult> {
    const applied = resources.map((r) => {
      const before = this.store.get(r.kind, r.metadata.namespace, r.metadata.name);
      const stored = this.store.apply(r);
      return { resource: stored, outcome: outcome(before, stored) };
    });
    return Promise.resolve({ revision: this.store.revision, applied });
  }

  delete(kind: string, namespace: string, name: string): Promise<DeleteResult> {
    const existing = this.store.get(kind, namespace, name);
    if (!existing || !this.store.delete(kind, namespace, name))
      return Promise.reject(notFound(kind, namespace, name));
    return Promise.resolve({ revision: this.store.revision, deleted: existing });
  }

  origin(): string | undefined {
    return undefined;
  }
}

export class DirectoryConfigWriter implements ConfigWriter {
  readonly appliedDir: string;
  /** Writes run one at a time: each reads the store, writes files, then reloads. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: DirectoryConfigStore) {
    this.appliedDir = path.join(store.dir, APPLIED_DIR);
  }

  /** `applied/virtualservice.default.reviews.yaml`: kind and namespace never hold dots. */
  fileFor(kind: string, namespace: string, name: string): string {
    return path.join(this.appliedDir, `${kind.toLowerCase()}.${namespace}.${name}.yaml`);
  }

  origin(kind: string, namespace: string, name: string): string | undefined {
    return this.store.sourceFile(kind, namespace, name);
  }

  apply(resources: readonly Resource[]): Promise<ApplyResult> {
    return this.serialized(() => this.applyNow(resources));
  }

  delete(kind: string, namespace: string, name: string): Promise<DeleteResult> {
    return this.serialized(() => this.deleteNow(kind, namespace, name));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A resource served from a file other than its applied file belongs to the user. */
  private userFile(r: { kind: string; namespace: string; name: string }): string | undefined {
    const owner = this.store.sourceFile(r.kind, r.namespace, r.name);
    return owner !== undefined && owner !== this.fileFor(r.kind, r.namespace, r.name) ? owner : undefined;
  }

  private async applyNow(resources: readonly Resource[]): Promise<ApplyResult> {
    for (const r of resources) {
      const { kind, metadata } = r;
      const owner = this.userFile({ kind, namespace: metadata.namespace, name: metadata.name });
      if (owner !== undefined) {
        throw new TrellisError(
          'TRELLIS_CONFLICT',
          `${kind} ${metadata.namespace}/${metadata.name} is defined in ${owner}; edit ${owner} or delete the resource there`,
          { file: owner },
        );
      }
    }
    const before = new Map(
      resources.map((r) => [keyOf(r), this.store.get(r.kind, r.metadata.namespace, r.metadata.name)]),
    );
    await mkdir(this.appliedDir, { recursive: true });
    const previous = new Map<string, { text: string | undefined; kind: string }>();
    for (const r of resources) {
      const file = this.fileFor(r.kind, r.metadata.namespace, r.metadata.name);
      if (!previous.has(file))
        previous.set(file, { text: await readFile(file, 'utf8').catch(() => undefined), kind: r.kind });
      await writeAtomically(file, toYaml(r), fileMode(r.kind));
    }
    await this.store.reload();

    // The store re-validates files and rejects duplicates; if it did not take every applied
    // file (a user file appeared meanwhile), put the files back as they were.
    const lost = resources.filter((r) => {
      const file = this.fileFor(r.kind, r.metadata.namespace, r.metadata.name);
      return this.store.sourceFile(r.kind, r.metadata.namespace, r.metadata.name) !== file;
    });
    if (lost.length > 0) {
      const why = this.rejection(lost[0] as Resource);
      for (const [file, { text, kind }] of previous) {
        if (text === undefined) await unlink(file).catch(() => undefined);
        else await writeAtomically(file, text, fileMode(kind));
      }
      await this.store.reload();
      throw new TrellisError('TRELLIS_CONFLICT', why);
    }
    const applied = resources.map((r) => {
      const stored = this.store.get(r.kind, r.metadata.namespace, r.metadata.name) as Resource;
      return { resource: stored, outcome: outcome(before.get(keyOf(r)), stored) };
    });
    return { revision: this.store.revision, applied };
  }

  private rejection(r: Resource): string {
    const where = `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
    const owner = this.store.sourceFile(r.kind, r.metadata.namespace, r.metadata.name);
    if (owner !== undefined)
      return `${where} is defined in ${owner}; edit ${owner} or delete the resource there`;
    const file = this.fileFor(r.kind, r.metadata.namespace, r.metadata.name);
    const problems = this.store
      .errors()
      .filter((e) => 'file' in e.source && path.resolve(e.source.file) === file)
      .flatMap((e) => e.problems.map(formatProblem));
    return `${where} was not accepted by the config directory: ${problems.join('; ') || 'unknown reason'}`;
  }

  private async deleteNow(kind: string, namespace: string, name: string): Promise<DeleteResult> {
    const existing = this.store.get(kind, namespace, name);
    if (!existing) throw notFound(kind, namespace, name);
    const owner = this.userFile({ kind, namespace, name });
    if (owner !== undefined) {
      throw new TrellisError(
        'TRELLIS_CONFLICT',
        `${kind} ${namespace}/${name} is defined in ${owner}; edit ${owner} or delete the resource there`,
        { file: owner },
      );
    }
    await unlink(this.fileFor(kind, namespace, name));
    await this.store.reload();
    if (this.store.get(kind, namespace, name)) {
      throw new TrellisError(
        'TRELLIS_INTERNAL',
        `${resourceKey(kind, namespace, name)} is still served after removing its applied file`,
      );
    }
    return { revision: this.store.revision, deleted: existing };
  }
}

export class LayeredConfigWriter implements ConfigWriter {
  constructor(
    private readonly store: LayeredConfigStore,
    private readonly inner: ConfigWriter,
  ) {}

  origin(kind: string, namespace: string, name: string): string | undefined {
    const layer = this.store.layerOf(kind, namespace, name);
    if (layer === undefined) return undefined;
    if (layer === this.store.options.writable) return this.inner.origin(kind, namespace, name);
    return this.store.options.sources?.get(layer);
  }

  async apply(resources: readonly Resource[]): Promise<ApplyResult> {
    for (const r of resources) this.refuseShadowed(r.kind, r.metadata.namespace, r.metadata.name);
    const result = await this.inner.apply(resources);
    return { ...result, revision: this.store.revision };
  }

  async delete(kind: string, namespace: string, name: string): Promise<DeleteResult> {
    this.refuseShadowed(kind, namespace, name);
    const result = await this.inner.delete(kind, namespace, name);
    return { ...result, revision: this.store.revision };
  }

  /** A resource another layer serves cannot be changed through the writable one. */
  private refuseShadowed(kind: string, namespace: string, name: string): void {
    const layer = this.store.layerOf(kind, namespace, name);
    if (layer === undefined || layer === this.store.options.writable) return;
    const source = this.store.options.sources?.get(layer) ?? 'another config source';
    throw new TrellisError(
      'TRELLIS_CONFLICT',
      `${kind} ${namespace}/${name} comes from ${source} and cannot be changed with apply or delete; change it there (or use another name)`,
    );
  }
}

const HEADER =
  '# Written by `trellis apply`. `trellis delete` removes this file; edits here take effect like\n' +
  '# edits to any other file of this directory.\n';

/** The resource as a user would write it: store-managed metadata left out. */
function toYaml(r: Resource): string {
  const { resourceVersion: _v, creationTimestamp: _t, ...metadata } = r.metadata;
  // Not redacted: this file is what serves (a Secret's key included), like the user's own files.
  return HEADER + stringify(manifestOf({ ...r, metadata }));
}

/** Kinds with secret values (Secret) are written readable by their owner only. */
function fileMode(kind: string): number {
  return findKind(kind)?.redact === undefined ? 0o644 : 0o600;
}

/** Write then rename, so the watcher never reads half a file. The temp name is hidden. */
async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}
