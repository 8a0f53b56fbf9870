/**
 * The last accepted version of every file of a config directory, kept on disk so a restart while
 * a file is invalid serves what was served before instead of silently dropping its resources
 * (Istio keeps serving the last good config; so must a restarted Trellis control plane).
 *
 * Layout: `<stateDir>/last-good/<encoded relative path>.json`, one entry per config file:
 * `{ format: 1, file, acceptedAt, sha256, text }`. The text is the file as it was accepted; it is
 * parsed and validated again when used, so an entry written by an older version is checked by
 * today's rules. Writes are atomic (temp file + rename). An entry that cannot be read, has a
 * wrong checksum or no longer validates is ignored with a warning, never served.
 *
 * The default state directory is `<configDir>/.trellis-state`: inside the config directory, so
 * the two move together, and ignored by the directory store (it skips dot-entries).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';

/** Name of the default state directory inside a config directory. */
export const DEFAULT_STATE_DIR_NAME = '.trellis-state';

const FORMAT = 1;

interface Entry {
  format: number;
  file: string;
  acceptedAt: string;
  sha256: string;
  text: string;
}

export type LoadResult =
  | { ok: true; text: string; path: string; acceptedAt: string }
  | { ok: false; path: string; reason: string }
  | undefined;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class LastGoodState {
  private readonly entriesDir: string;
  /** relative file -> sha256 of the text persisted for it (what is on disk). */
  private readonly persisted = new Map<string, string>();
  private tmpSeq = 0;

  constructor(readonly dir: string) {
    this.entriesDir = path.join(dir, 'last-good');
  }

  /** Where the entry of `file` (relative to the config directory) lives. */
  pathOf(file: string): string {
    return path.join(this.entriesDir, `${encodeURIComponent(file)}.json`);
  }

  /** Records `text` as the accepted version of `file`; a no-op when it is already recorded. */
  async save(file: string, text: string, now: Date): Promise<void> {
    const hash = sha256(text);
    if (this.persisted.get(file) === hash) return;
    const entry: Entry = { format: FORMAT, file, acceptedAt: now.toISOString(), sha256: hash, text };
    const target = this.pathOf(file);
    await mkdir(this.entriesDir, { recursive: true });
    const tmp = `${target}.${process.pid}.${++this.tmpSeq}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(entry) + '\n');
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    this.persisted.set(file, hash);
  }

  /** The recorded version of `file`: undefined when there is none, `ok: false` when it is unusable. */
  async load(file: string): Promise<LoadResult> {
    const p = this.pathOf(file);
    let raw: string;
    try {
      raw = await readFile(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { ok: false, path: p, reason: errorMessage(err) };
    }
    let entry: Partial<Entry>;
    try {
      entry = JSON.parse(raw) as Partial<Entry>;
    } catch (err) {
      return { ok: false, path: p, reason: `not JSON (${errorMessage(err)})` };
    }
    if (entry.format !== FORMAT || typeof entry.text !== 'string' || entry.file !== file)
      return { ok: false, path: p, reason: `not a format ${FORMAT} entry for ${file}` };
    if (sha256(entry.text) !== entry.sha256)
      return { ok: false, path: p, reason: 'checksum mismatch (truncated or edited)' };
    this.persisted.set(file, entry.sha256);
    return { ok: true, text: entry.text, path: p, acceptedAt: String(entry.acceptedAt) };
  }

  /** Drops the entry of a file that no longer exists, so it is never served again. */
  async remove(file: string): Promise<void> {
    this.persisted.delete(file);
    await unlink(this.pathOf(file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Drops every entry whose file is not in `files` (deleted while nothing was running). */
  async prune(files: ReadonlySet<string>): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.entriesDir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        // Left by a process killed between write and rename.
        await unlink(path.join(this.entriesDir, name)).catch(() => undefined);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      let file: string;
      try {
        file = decodeURIComponent(name.slice(0, -'.json'.length));
      } catch {
        continue;
      }
      if (files.has(file)) continue;
      await this.remove(file);
      removed.push(file);
    }
    return removed;
  }
}
