/**
 * API writes (`trellis apply`, `trellis delete`) to an etcd store, from any replica:
 *
 * - apply: every resource in one etcd transaction (all or none). Each key's mod revision is
 *   compared with what was read just before (so a concurrent write is never silently lost: the
 *   whole apply is read and tried again, a few times, then TRELLIS_CONFLICT), or with the
 *   caller's expected version (TRELLIS_CONFLICT at once when it differs);
 * - delete: one key, TRELLIS_NOT_FOUND when absent;
 * - answered once this replica's watch has applied the write's revision, so the revision in the
 *   answer is served here (`trellis wait --for-revision` works against any replica);
 * - etcd unreachable: refused within the store's timeout with TRELLIS_STORE_UNAVAILABLE (HTTP 503).
 *
 * Values are the manifests as JSON (etcd-keys.ts), checked by decoding them exactly as every
 * replica will before anything is written.
 */
import { TrellisError, formatProblem } from '../core/errors.js';
import { keyOf, type Resource } from '../api/resource.js';
import { manifestOf } from '../api/validate.js';
import type { ApplyOutcome, ApplyResult, ConfigWriter, DeleteResult } from './config-writer.js';
import { withDeadline } from './etcd-client.js';
import { resourceEtcdKey } from './etcd-keys.js';
import { decodeKv } from './etcd-state.js';
import { parseAndValidate } from '../api/parse.js';
import type { EtcdConfigStore } from './etcd-store.js';

export interface EtcdApplyOptions {
  /** `Kind/namespace/name` -> the resourceVersion (mod revision) it must be at; `0`: absent. */
  expectedVersions?: ReadonlyMap<string, string>;
}

const ATTEMPTS = 3;

interface Planned {
  resource: Resource;
  key: string;
  value: string;
  observed: number;
  outcome: ApplyOutcome;
}

export class EtcdConfigWriter implements ConfigWriter {
  constructor(private readonly store: EtcdConfigStore) {}

  origin(): string | undefined {
    return undefined;
  }

  keyOf(kind: string, namespace: string, name: string): string {
    return resourceEtcdKey(this.store.prefix, kind, namespace, name);
  }

  apply(resources: readonly Resource[], options: EtcdApplyOptions = {}): Promise<ApplyResult> {
    return this.bounded(() => this.applyNow(resources, options));
  }

  delete(
    kind: string,
    namespace: string,
    name: string,
    options: { expectedVersion?: string } = {},
  ): Promise<DeleteResult> {
    return this.bounded(() => this.deleteNow(kind, namespace, name, options.expectedVersion));
  }

  private bounded<T>(fn: () => Promise<T>): Promise<T> {
    return withDeadline(fn, this.store.timeoutMs, (cause) => this.store.unavailable(cause));
  }

  private async applyNow(resources: readonly Resource[], options: EtcdApplyOptions): Promise<ApplyResult> {
    const keys = resources.map((r) => this.keyOf(r.kind, r.metadata.namespace, r.metadata.name));
    if (new Set(keys).size !== keys.length)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', 'the same resource appears twice in one apply');
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(keys);
      const plan = resources.map((r, i) => this.plan(r, keys[i] as string, current.get(keys[i] as string)));
      for (const p of plan) {
        const want = options.expectedVersions?.get(keyOf(p.resource));
        if (want !== undefined && want !== String(p.observed)) throw conflict(p.resource, p.observed, want);
      }
      const writes = plan.filter((p) => p.outcome !== 'unchanged');
      if (writes.length === 0) {
        return {
          revision: this.store.revision,
          applied: plan.map((p) => ({ resource: this.served(p), outcome: p.outcome })),
        };
      }
      const res = await this.store.client.kv.txn({
        compare: plan.map((p) => ({
          key: Buffer.from(p.key),
          target: 'Mod' as const,
          result: 'Equal' as const,
          mod_revision: String(p.observed),
        })),
        success: writes.map((p) => ({
          request_put: { key: Buffer.from(p.key), value: Buffer.from(p.value) },
        })),
        failure: [],
      });
      if (!res.succeeded) {
        if (options.expectedVersions || attempt >= ATTEMPTS)
          throw new TrellisError(
            'TRELLIS_CONFLICT',
            'another write changed these resources at the same time; nothing was applied: read them again and retry',
          );
        continue;
      }
      const revision = Number(res.header.revision);
      await this.store.waitForRevision(revision);
      return {
        revision,
        applied: plan.map((p) => ({
          resource: p.outcome === 'unchanged' ? this.served(p) : this.decoded(p, revision),
          outcome: p.outcome,
        })),
      };
    }
  }

  private async deleteNow(
    kind: string,
    namespace: string,
    name: string,
    expectedVersion: string | undefined,
  ): Promise<DeleteResult> {
    const key = this.keyOf(kind, namespace, name);
    const current = (await this.read([key])).get(key);
    if (!current) throw new TrellisError('TRELLIS_NOT_FOUND', `${kind} ${namespace}/${name} not found`);
    if (expectedVersion !== undefined && expectedVersion !== String(current.modRevision))
      throw new TrellisError(
        'TRELLIS_CONFLICT',
        `${kind} ${namespace}/${name} is at version ${current.modRevision}, not ${expectedVersion}; read it again and retry`,
      );
    const res = await this.store.client.kv.txn({
      compare: [
        { key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: String(current.modRevision) },
      ],
      success: [{ request_delete_range: { key: Buffer.from(key) } }],
      failure: [],
    });
    if (!res.succeeded)
      throw new TrellisError(
        'TRELLIS_CONFLICT',
        `${kind} ${namespace}/${name} changed while it was being deleted; read it again and retry`,
      );
    const revision = Number(res.header.revision);
    await this.store.waitForRevision(revision);
    const decoded = decodeKv(this.store.prefix, { key, ...current }, parseAndValidate);
    const deleted: Resource = decoded.ok
      ? decoded.resource
      : { apiVersion: '', kind, metadata: { namespace, name }, spec: {} };
    return { revision, deleted };
  }

  /** The current value and mod revision of each key, read at one revision. */
  private async read(keys: readonly string[]): Promise<Map<string, { value: string; modRevision: number }>> {
    const res = await this.store.client.kv.txn({
      compare: [],
      success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })),
      failure: [],
    });
    const out = new Map<string, { value: string; modRevision: number }>();
    for (const r of res.responses) {
      const kv = r.response_range?.kvs?.[0];
      if (kv)
        out.set(kv.key.toString(), { value: kv.value.toString(), modRevision: Number(kv.mod_revision) });
    }
    return out;
  }

  private plan(
    resource: Resource,
    key: string,
    current: { value: string; modRevision: number } | undefined,
  ): Planned {
    const existing = current ? parseStored(current.value) : undefined;
    const createdAt =
      (existing?.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp ??
      new Date().toISOString();
    const { resourceVersion: _v, creationTimestamp: _t, ...metadata } = resource.metadata;
    const manifest = manifestOf({ ...resource, metadata: { ...metadata } });
    const value = JSON.stringify({ ...manifest, metadata: { ...metadata, creationTimestamp: createdAt } });
    const decoded = decodeKv(this.store.prefix, { key, value, modRevision: 0 }, parseAndValidate);
    if (!decoded.ok) {
      const where = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
      throw new TrellisError(
        'TRELLIS_INVALID_CONFIG',
        `${where} is invalid: ${decoded.problems.map(formatProblem).join('; ')}`,
        {
          path: decoded.problems[0]?.path,
        },
      );
    }
    const outcome: ApplyOutcome = !current ? 'created' : current.value === value ? 'unchanged' : 'configured';
    return { resource, key, value, observed: current?.modRevision ?? 0, outcome };
  }

  private decoded(p: Planned, revision: number): Resource {
    const d = decodeKv(
      this.store.prefix,
      { key: p.key, value: p.value, modRevision: revision },
      parseAndValidate,
    );
    return d.ok ? d.resource : p.resource;
  }

  /** An unchanged resource as stored (its resourceVersion the key's mod revision). */
  private served(p: Planned): Resource {
    return this.decoded(p, p.observed);
  }
}

function parseStored(value: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(value) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function conflict(r: Resource, observed: number, want: string): TrellisError {
  return new TrellisError(
    'TRELLIS_CONFLICT',
    `${r.kind} ${r.metadata.namespace}/${r.metadata.name} is at version ${observed === 0 ? 'none (absent)' : observed}, not ${want}; nothing was applied: read it again and retry`,
  );
}
