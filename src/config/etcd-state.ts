/**
 * The etcd store's state, without any I/O: what a replica serves given the key-values it has
 * read and the watch events it has seen. Every value is validated on read by the same parser as
 * files (a stored document that fails is a ConfigError whose source is its key, and the last
 * good version of that key keeps serving). Revisions are etcd's: the state's revision is the
 * last etcd revision applied, each resource's `resourceVersion` its key's mod revision.
 */
import type { Problem } from '../core/errors.js';
import type { ParsedDocument } from '../api/parse.js';
import type { Resource } from '../api/resource.js';
import { parseResourceEtcdKey } from './etcd-keys.js';
import { FrozenSnapshot } from './snapshot.js';
import type { ConfigChange, ConfigError, ConfigEvent } from './store.js';

export type DocumentParser = (text: string, file: string) => ParsedDocument[];

export interface EtcdKv {
  key: string;
  value: string;
  modRevision: number;
}

/** One watch event: a put carries the key-value at its mod revision; a delete the revision. */
export type KvEvent = { type: 'put'; kv: EtcdKv } | { type: 'delete'; key: string; revision: number };

export type Decoded = { ok: true; resource: Resource } | { ok: false; problems: Problem[] };

const problem = (path: string, message: string): Problem => ({ severity: 'error', path, message });

/** One stored value to a validated resource, or the problems that reject it. */
export function decodeKv(prefix: string, kv: EtcdKv, parse: DocumentParser): Decoded {
  const parts = parseResourceEtcdKey(prefix, kv.key);
  if (!parts)
    return {
      ok: false,
      problems: [problem('', `not a resource key: expected ${prefix}<Kind>/<namespace>/<name>`)],
    };
  const docs = parse(kv.value, kv.key);
  const errors = docs.flatMap((d) => d.problems.filter((p) => p.severity === 'error'));
  if (errors.length > 0) return { ok: false, problems: errors };
  const resources = docs.flatMap((d) => (d.resource ? [d.resource] : []));
  const [resource] = resources;
  if (resources.length !== 1 || !resource)
    return { ok: false, problems: [problem('', `expected one resource, found ${resources.length}`)] };
  const { kind, metadata } = resource;
  if (kind !== parts.kind || metadata.namespace !== parts.namespace || metadata.name !== parts.name)
    return {
      ok: false,
      problems: [
        problem(
          'metadata',
          `the value describes ${kind} ${metadata.namespace}/${metadata.name} but is stored under ${parts.kind} ${parts.namespace}/${parts.name}`,
        ),
      ],
    };
  const copy = structuredClone(resource);
  copy.metadata.resourceVersion = String(kv.modRevision);
  const created = creationTimestampOf(kv.value);
  if (created !== undefined) copy.metadata.creationTimestamp = created;
  return { ok: true, resource: copy };
}

/** The parser drops store-managed metadata; the creation time is read back from the JSON. */
function creationTimestampOf(value: string): string | undefined {
  try {
    const v = JSON.parse(value) as { metadata?: { creationTimestamp?: unknown } };
    const t = v.metadata?.creationTimestamp;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

export class EtcdConfigState {
  /** etcd key -> the resource it serves (the last good version when its value is invalid). */
  private readonly good = new Map<string, Resource>();
  /** etcd key -> the stored value (valid or not): what the disk cache keeps. */
  private readonly raw = new Map<string, EtcdKv>();
  private readonly rejected = new Map<string, ConfigError>();
  private rev = 0;
  private current = new FrozenSnapshot(0, []);

  constructor(
    readonly prefix: string,
    private readonly parse: DocumentParser,
    private readonly now: () => number = Date.now,
  ) {}

  get revision(): number {
    return this.rev;
  }

  snapshot(): FrozenSnapshot {
    return this.current;
  }

  errors(): ConfigError[] {
    return [...this.rejected.values()];
  }

  /** Every stored key-value, valid or not (for the disk cache). */
  rawValues(): EtcdKv[] {
    return [...this.raw.values()];
  }

  /** The mod revision of a key as this state last saw it (0: absent). */
  modRevisionOf(key: string): number {
    return this.raw.get(key)?.modRevision ?? 0;
  }

  /**
   * Applies one revision's events (a transaction's puts and deletes). Returns the ConfigEvent
   * when served resources changed. Events at or below the current revision are ignored (a
   * resumed watch may repeat them).
   */
  applyRevision(revision: number, events: readonly KvEvent[]): ConfigEvent | undefined {
    if (revision <= this.rev) return undefined;
    const before = new Map<string, Resource | undefined>();
    for (const e of events) {
      const key = e.type === 'put' ? e.kv.key : e.key;
      if (!before.has(key)) before.set(key, this.good.get(key));
      if (e.type === 'put') this.put(e.kv);
      else this.remove(key);
    }
    return this.finish(revision, before);
  }

  /**
   * Replaces everything with a full listing at `revision` (start, or a re-list after the watch
   * history was compacted): one event with the differences. An older listing is ignored unless
   * `force` (a cached state replaced by what etcd holds).
   */
  replaceAll(revision: number, kvs: readonly EtcdKv[], force = false): ConfigEvent | undefined {
    if (revision < this.rev && !force) return undefined;
    const before = new Map<string, Resource | undefined>();
    const listed = new Set(kvs.map((kv) => kv.key));
    for (const key of [...this.raw.keys()]) {
      if (listed.has(key)) continue;
      before.set(key, this.good.get(key));
      this.remove(key);
    }
    for (const kv of kvs) {
      if (this.raw.get(kv.key)?.modRevision === kv.modRevision && this.raw.get(kv.key)?.value === kv.value)
        continue;
      if (!before.has(kv.key)) before.set(kv.key, this.good.get(kv.key));
      this.put(kv);
    }
    return this.finish(revision, before);
  }

  private put(kv: EtcdKv): void {
    this.raw.set(kv.key, kv);
    const decoded = decodeKv(this.prefix, kv, this.parse);
    if (decoded.ok) {
      this.good.set(kv.key, decoded.resource);
      this.rejected.delete(kv.key);
      return;
    }
    this.rejected.set(kv.key, {
      source: { file: kv.key, doc: 1 },
      problems: decoded.problems,
      at: this.now(),
      servingLastGood: this.good.has(kv.key),
    });
  }

  private remove(key: string): void {
    this.raw.delete(key);
    this.good.delete(key);
    this.rejected.delete(key);
  }

  private finish(revision: number, before: Map<string, Resource | undefined>): ConfigEvent | undefined {
    this.rev = revision;
    const changes: ConfigChange[] = [];
    for (const [key, previous] of before) {
      const resource = this.good.get(key);
      if (resource === previous) continue;
      const id = (r: Resource) => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
      if (!resource) {
        if (previous) changes.push({ type: 'deleted', ...id(previous), previous });
      } else if (!previous) changes.push({ type: 'added', ...id(resource), resource });
      else changes.push({ type: 'updated', ...id(resource), resource, previous });
    }
    if (changes.length === 0) {
      if (this.current.revision !== revision) this.current = new FrozenSnapshot(revision, this.good.values());
      return undefined;
    }
    this.current = new FrozenSnapshot(revision, this.good.values());
    return { revision, changes };
  }
}
