/**
 * The last state an etcd store saw, on disk, so a replica that restarts while etcd is down serves
 * what it last served (like last-good-state.ts for a config directory).
 *
 * Layout: `<stateDir>/etcd/<encoded prefix>.json`: `{ format: 1, prefix, revision, savedAt,
 * sha256, kvs }`, the sha256 over the JSON of `kvs`. Values are kept as stored and validated
 * again when loaded. Writes are atomic (temp file + rename) and coalesced: while one write runs,
 * later states replace each other and only the newest is written next. A file that cannot be
 * read, has the wrong checksum or format is ignored with a reason, never served.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { EtcdKv } from './etcd-state.js';

const FORMAT = 1;

export interface CachedState {
  revision: number;
  kvs: EtcdKv[];
  savedAt: string;
  path: string;
}

export type CacheLoad =
  { ok: true; state: CachedState } | { ok: false; path: string; reason: string } | undefined;

const digest = (kvs: readonly EtcdKv[]) => createHash('sha256').update(JSON.stringify(kvs)).digest('hex');

export class EtcdStateCache {
  readonly file: string;
  private pending: { revision: number; kvs: EtcdKv[] } | undefined;
  private writing: Promise<void> | undefined;
  private seq = 0;

  constructor(
    dir: string,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.file = path.join(dir, 'etcd', `${encodeURIComponent(prefix)}.json`);
  }

  async load(): Promise<CacheLoad> {
    let raw: string;
    try {
      raw = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { ok: false, path: this.file, reason: errorMessage(err) };
    }
    let entry: {
      format?: unknown;
      prefix?: unknown;
      revision?: unknown;
      savedAt?: unknown;
      sha256?: unknown;
      kvs?: unknown;
    };
    try {
      entry = JSON.parse(raw) as typeof entry;
    } catch (err) {
      return { ok: false, path: this.file, reason: `not JSON (${errorMessage(err)})` };
    }
    if (
      entry.format !== FORMAT ||
      entry.prefix !== this.prefix ||
      typeof entry.revision !== 'number' ||
      !Array.isArray(entry.kvs) ||
      !entry.kvs.every(isKv)
    )
      return { ok: false, path: this.file, reason: `not a format ${FORMAT} cache of ${this.prefix}` };
    if (digest(entry.kvs) !== entry.sha256)
      return { ok: false, path: this.file, reason: 'checksum mismatch (truncated or edited)' };
    return {
      ok: true,
      state: { revision: entry.revision, kvs: entry.kvs, savedAt: String(entry.savedAt), path: this.file },
    };
  }

  /** Records the state at `revision`; written soon, coalesced with later calls. */
  save(revision: number, kvs: EtcdKv[]): void {
    this.pending = { revision, kvs };
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves once every saved state is on disk. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const { revision, kvs } = this.pending;
        this.pending = undefined;
        await this.write(revision, kvs).catch(this.onError);
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async write(revision: number, kvs: EtcdKv[]): Promise<void> {
    const body = {
      format: FORMAT,
      prefix: this.prefix,
      revision,
      savedAt: new Date().toISOString(),
      sha256: digest(kvs),
      kvs,
    };
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    try {
      // Secrets are stored as written: readable by the owner only.
      await writeFile(tmp, JSON.stringify(body) + '\n', { mode: 0o600 });
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

function isKv(v: unknown): v is EtcdKv {
  const kv = v as Partial<EtcdKv> | null;
  return (
    typeof kv === 'object' &&
    kv !== null &&
    typeof kv.key === 'string' &&
    typeof kv.value === 'string' &&
    typeof kv.modRevision === 'number'
  );
}
