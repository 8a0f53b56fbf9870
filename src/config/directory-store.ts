import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { errorMessage, formatProblem, type Problem } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { resourceKey, type Resource, type SourceRef } from '../api/resource.js';
import { isUnreadable, listConfigFiles, readConfigFiles, type UnreadableEntry } from './config-files.js';
import { LastGoodState } from './last-good-state.js';
import { MemoryConfigStore } from './memory-store.js';
import type { ConfigError, ConfigListener, ConfigStore } from './store.js';
import type { ConfigSnapshot } from './types.js';

/** One YAML document of a file, parsed and validated. */
export interface ParsedDocument {
  source: SourceRef;
  resource?: Resource;
  problems: readonly Problem[];
}

/** Parses and validates a file's text into its documents (src/api provides it). */
export type DocumentParser = (text: string, file: string) => ParsedDocument[];

export interface DirectoryStoreOptions {
  parse: DocumentParser;
  logger?: Logger;
  clock?: Clock;
  /** Quiet time after a file event before re-reading (editors write in several steps). */
  settleMs?: number;
  /** Re-scan period, a safety net for file systems whose events get lost. 0 disables. */
  rescanMs?: number;
  /**
   * Where the last accepted version of every file is persisted (last-good-state.ts), so a
   * restart while a file is invalid serves that version. Unset: memory only (`trellis analyze`,
   * tests). The CLI uses `<dir>/.trellis-state` unless told otherwise.
   */
  stateDir?: string;
}

/**
 * A directory of Istio/Trellis YAML, watched. Each file is accepted or rejected as a whole: a
 * file with any error keeps its previous good resources serving, and its problems are exposed
 * through errors() and the log until it is fixed. The same resource defined in two files is an
 * error in the later file (by path order).
 */
export class DirectoryConfigStore implements ConfigStore {
  private readonly store: MemoryConfigStore;
  private readonly good = new Map<string, Resource[]>();
  private readonly fileErrors = new Map<string, ConfigError[]>();
  private readonly mtimes = new Map<string, number>();
  /** The text of each file whose warnings were last logged. */
  private readonly warnedText = new Map<string, string>();
  /** The problems last logged for each rejected file. */
  private readonly reported = new Map<string, string>();
  /** Directories the last read could not list, joined: a rescan reloads when they change. */
  private unlistedKey = '';
  /** Files served from persisted state because they were invalid when the store started. */
  private readonly lastGoodFrom = new Map<string, string>();
  private readonly state: LastGoodState | undefined;
  private pruned = false;
  /** resourceKey -> absolute path of the file serving it (after the last reload). */
  private owners = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private settleTimer: TimerHandle | undefined;
  private rescanTimer: TimerHandle | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(
    readonly dir: string,
    private readonly options: DirectoryStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.store = new MemoryConfigStore();
    this.state = options.stateDir === undefined ? undefined : new LastGoodState(options.stateDir);
  }

  /** Reads the directory once and starts watching it. */
  async start(): Promise<void> {
    await this.reload();
    try {
      this.watcher = watch(this.dir, { recursive: true }, (_event, name) => {
        // Dot-entries are never config (config-files.ts skips them); the state directory is one.
        if (
          name &&
          String(name)
            .split(path.sep)
            .some((part) => part.startsWith('.'))
        )
          return;
        this.scheduleReload();
      });
      this.watcher.on('error', (err) =>
        this.logger.warn('watch failed; relying on rescans', { error: errorMessage(err) }),
      );
    } catch (err) {
      this.logger.warn('cannot watch directory; relying on rescans', {
        dir: this.dir,
        error: errorMessage(err),
      });
    }
    this.scheduleRescan();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.settleTimer?.cancel();
    this.rescanTimer?.cancel();
  }

  get revision(): number {
    return this.store.revision;
  }

  snapshot(): ConfigSnapshot {
    return this.store.snapshot();
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.store.get(kind, namespace, name);
  }

  list(kind: string, namespace?: string): readonly Resource[] {
    return this.store.list(kind, namespace);
  }

  watch(listener: ConfigListener): () => void {
    return this.store.watch(listener);
  }

  errors(): readonly ConfigError[] {
    return [...this.fileErrors.values()].flat();
  }

  /** Absolute path of the file that defines a served resource (its last good version). */
  sourceFile(kind: string, namespace: string, name: string): string | undefined {
    return this.owners.get(resourceKey(kind, namespace, name));
  }

  /** Re-reads every file now; concurrent calls coalesce. Resolves when the store is current. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        await this.readAll();
      } while (this.again && !this.closed);
    })();
    try {
      await this.reloading;
    } finally {
      this.reloading = undefined;
    }
  }

  private scheduleReload(): void {
    if (this.closed) return;
    this.settleTimer?.cancel();
    this.settleTimer = this.clock.setTimeout(() => void this.reload(), this.options.settleMs ?? 50);
  }

  private scheduleRescan(): void {
    const every = this.options.rescanMs ?? 2000;
    if (this.closed || every <= 0) return;
    this.rescanTimer = this.clock.setTimeout(() => {
      void this.rescanIfChanged().finally(() => this.scheduleRescan());
    }, every);
  }

  private async rescanIfChanged(): Promise<void> {
    const { files, unreadable } = await listConfigFiles(this.dir);
    const all = [...files, ...unreadable.filter((e) => !e.directory).map((e) => e.file)];
    let changed = all.length !== this.mtimes.size || unlistedKeyOf(unreadable) !== this.unlistedKey;
    for (const f of all) {
      const st = await stat(f).catch(() => undefined);
      if (this.mtimes.get(f) !== (st?.mtimeMs ?? -1)) changed = true;
    }
    if (changed) await this.reload();
  }

  private async readAll(): Promise<void> {
    const entries = await readConfigFiles(this.dir);
    const unreadable = entries.filter(isUnreadable);
    this.unlistedKey = unlistedKeyOf(unreadable);
    const listed = new Set(entries.map((e) => e.file));
    const seen = new Set(listed);
    // Files below a directory that cannot be listed are unknown, not deleted: they keep serving.
    const unlisted = unreadable.filter((e) => e.directory).map((e) => e.file);
    for (const file of this.good.keys()) {
      if (unlisted.some((d) => file.startsWith(d + path.sep) || file === d)) seen.add(file);
    }
    for (const file of [...this.good.keys()]) {
      if (!seen.has(file)) {
        this.good.delete(file);
        this.fileErrors.delete(file);
        this.mtimes.delete(file);
        this.warnedText.delete(file);
        this.reported.delete(file);
        this.lastGoodFrom.delete(file);
        await this.forget(file);
        this.logger.info('file removed; its resources are deleted', { file: this.rel(file) });
      }
    }
    for (const file of [...this.fileErrors.keys()]) {
      if (seen.has(file)) continue;
      this.fileErrors.delete(file);
      this.reported.delete(file);
      await this.forget(file);
    }
    // State is pruned against a complete listing only.
    if (!this.pruned && unlisted.length === 0) await this.pruneState(seen);

    const owner = new Map<string, string>();
    for (const file of seen) {
      if (listed.has(file)) continue;
      // Kept from an unlistable directory: its resources still own their names.
      for (const r of this.good.get(file) ?? [])
        owner.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), file);
    }
    this.mtimes.clear();
    for (const entry of entries) {
      const file = entry.file;
      if (!isUnreadable(entry) || !entry.directory) {
        const st = await stat(file).catch(() => undefined);
        this.mtimes.set(file, st?.mtimeMs ?? -1);
      }
      if (isUnreadable(entry)) {
        if (!entry.directory) await this.keepLastGood(file);
        this.reject(file, [
          {
            source: { file: this.rel(file), doc: 0 },
            problems: [{ severity: 'error', path: '', message: entry.message }],
          },
        ]);
        for (const r of this.good.get(file) ?? [])
          owner.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), file);
        continue;
      }
      const text = entry.text;
      const docs = this.options.parse(text, this.rel(file));
      const problems = docs.filter((d) => d.problems.some((p) => p.severity === 'error'));
      // Warnings are said once per version of a file, not again at every reload of the directory
      // (an API write reloads it, and then its watcher sees the same files change).
      if (this.warnedText.get(file) !== text) {
        this.warnedText.set(file, text);
        for (const d of docs) {
          for (const w of d.problems.filter((p) => p.severity === 'warning')) {
            this.logger.warn(`${d.source.file}:${d.source.doc}: ${formatProblem(w)}`);
          }
        }
      }
      // Duplicates across files: the later file (in path order) is rejected.
      const dupes: ParsedDocument[] = [];
      for (const d of docs) {
        if (!d.resource) continue;
        const key = resourceKey(d.resource.kind, d.resource.metadata.namespace, d.resource.metadata.name);
        const other = owner.get(key);
        if (other !== undefined && other !== file) {
          dupes.push({
            source: d.source,
            problems: [
              {
                severity: 'error',
                path: 'metadata.name',
                message: `${key} is already defined in ${this.rel(other)}`,
              },
            ],
          });
        }
      }
      if (problems.length > 0 || dupes.length > 0) {
        await this.keepLastGood(file);
        this.reject(file, [...problems, ...dupes]);
        for (const r of this.good.get(file) ?? []) {
          owner.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), file);
        }
        continue;
      }
      const resources = docs.flatMap((d) => (d.resource ? [d.resource] : []));
      for (const r of resources) owner.set(resourceKey(r.kind, r.metadata.namespace, r.metadata.name), file);
      this.reported.delete(file);
      if (this.fileErrors.delete(file)) this.logger.info('file is valid again', { file: this.rel(file) });
      this.good.set(file, resources);
      this.lastGoodFrom.delete(file);
      await this.persist(file, text);
    }
    this.owners = owner;
    const count = this.store.replaceAll([...this.good.values()].flat());
    if (count > 0) {
      this.logger.info('config updated', { revision: this.store.revision, changed: count, dir: this.dir });
    }
  }

  private reject(file: string, docs: ParsedDocument[]): void {
    const lines = docs.flatMap((d) =>
      d.problems
        .filter((p) => p.severity === 'error')
        .map((p) => `${d.source.file}:${d.source.doc}: ${formatProblem(p)}`),
    );
    // Said once per distinct set of problems, not again at every reload of the directory.
    const said = lines.join('\n');
    if (this.reported.get(file) !== said) {
      this.reported.set(file, said);
      for (const line of lines) this.logger.error(line, { kept: this.keptText(file) });
    }
    const at = this.clock.wallNow();
    const servingLastGood = this.good.has(file);
    const from = this.lastGoodFrom.get(file);
    this.fileErrors.set(
      file,
      docs.map((d) => ({
        source: d.source,
        problems: d.problems.filter((p) => p.severity === 'error'),
        at,
        servingLastGood,
        ...(from !== undefined ? { lastGoodFrom: from } : {}),
      })),
    );
  }

  private keptText(file: string): string {
    const from = this.lastGoodFrom.get(file);
    if (from !== undefined) return `serving last accepted version from ${from}`;
    return this.good.has(file) ? 'last good version of the file' : 'nothing (file never loaded)';
  }

  /** The file's path inside the config directory: the key of its persisted state. */
  private stateKey(file: string): string {
    return path.relative(this.dir, file).split(path.sep).join('/');
  }

  /** Records an accepted file; a failure to write costs only the restart guarantee, so it warns. */
  private async persist(file: string, text: string): Promise<void> {
    if (!this.state) return;
    try {
      await this.state.save(this.stateKey(file), text, new Date(this.clock.wallNow()));
    } catch (err) {
      this.logger.warn(
        'cannot persist the last accepted version; a restart while it is invalid will not serve it',
        {
          file: this.rel(file),
          error: errorMessage(err),
        },
      );
    }
  }

  private async forget(file: string): Promise<void> {
    await this.state?.remove(this.stateKey(file)).catch((err: unknown) =>
      this.logger.warn('cannot remove persisted state of a deleted file', {
        file: this.rel(file),
        error: errorMessage(err),
      }),
    );
  }

  /** Once, at start: state of files deleted while the store was not running is dropped. */
  private async pruneState(files: ReadonlySet<string>): Promise<void> {
    this.pruned = true;
    if (!this.state) return;
    const keys = new Set([...files].map((f) => this.stateKey(f)));
    for (const removed of await this.state.prune(keys).catch(() => [])) {
      this.logger.info('file deleted while stopped; its last accepted version is dropped', { file: removed });
    }
  }

  /**
   * A file that is invalid (or unreadable) and has no good version in memory, i.e. since a
   * restart, serves its persisted last accepted version if there is a usable one.
   */
  private async keepLastGood(file: string): Promise<void> {
    if (!this.state || this.good.has(file)) return;
    const key = this.stateKey(file);
    const loaded = await this.state.load(key);
    if (loaded === undefined) return;
    if (!loaded.ok) {
      this.logger.warn('ignoring unusable persisted state', {
        file: this.rel(file),
        state: loaded.path,
        reason: loaded.reason,
      });
      return;
    }
    const docs = this.options.parse(loaded.text, this.rel(file));
    const bad = docs.flatMap((d) => d.problems.filter((p) => p.severity === 'error'));
    if (bad.length > 0) {
      this.logger.warn('ignoring persisted state that no longer validates', {
        file: this.rel(file),
        state: loaded.path,
        reason: formatProblem(bad[0]!),
      });
      return;
    }
    this.good.set(
      file,
      docs.flatMap((d) => (d.resource ? [d.resource] : [])),
    );
    this.lastGoodFrom.set(file, loaded.path);
    this.logger.warn(`${this.rel(file)}: invalid; serving last accepted version from ${loaded.path}`, {
      acceptedAt: loaded.acceptedAt,
    });
  }

  private rel(file: string): string {
    return path.relative(process.cwd(), file) || file;
  }
}

function unlistedKeyOf(entries: readonly UnreadableEntry[]): string {
  return entries
    .filter((e) => e.directory)
    .map((e) => e.file)
    .join('\n');
}
