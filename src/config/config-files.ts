/**
 * Which files of a directory are config, and their text: the one rule shared by the control
 * plane's directory store, `trellis analyze` and `trellis apply -f DIR`, so a check never looks at
 * other files than the control plane loads.
 *
 * The rule:
 * - directories are read recursively; a symbolic link to a directory is not followed (no cycles);
 * - entries whose name starts with `.` are skipped, files and directories alike (editors' swap
 *   files, `.git`, the store's own `.trellis-state`, a Kubernetes ConfigMap mount's `..data`);
 * - a file is config when its name ends in `.yaml`, `.yml` or `.json`, in any case (`A.YAML`);
 *   a symbolic link to a file counts as that file (ConfigMap mounts are made of them);
 * - an entry that matches but cannot be read (permissions, a dangling link, not a regular file)
 *   and a subdirectory that cannot be listed are reported with their path, never skipped in
 *   silence and never thrown: the caller decides what a finding costs.
 * Entries come sorted by path, so "the later file" means the same thing everywhere.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';

const CONFIG_FILE = /\.(ya?ml|json)$/i;

/** Whether a file name is a config file's name (extension only; hidden names are the walk's concern). */
export function isConfigFileName(name: string): boolean {
  return CONFIG_FILE.test(name);
}

/** A config file, or a directory, that could not be read. */
export interface UnreadableEntry {
  readonly file: string;
  /** What went wrong, for a user: `no such file or directory`, `cannot read: EACCES ...`. */
  readonly message: string;
  /** A directory that could not be listed: the files below it are unknown, not deleted. */
  readonly directory: boolean;
}

export interface ConfigFileList {
  /** Config files, absolute, sorted by path. */
  readonly files: readonly string[];
  /** Entries that could not be read, sorted by path. */
  readonly unreadable: readonly UnreadableEntry[];
}

export type ConfigFileEntry = { readonly file: string; readonly text: string } | UnreadableEntry;

export function isUnreadable(e: ConfigFileEntry): e is UnreadableEntry {
  return 'message' in e;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${errorMessage(err)}`;
}

/**
 * The config files under `target` by the rule above. A `target` that is a file stands for
 * itself whatever its name (the user named it); one that cannot be read is reported.
 */
export async function listConfigFiles(target: string): Promise<ConfigFileList> {
  const files: string[] = [];
  const unreadable: UnreadableEntry[] = [];
  const root = await stat(target).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (root instanceof Error) {
    return { files, unreadable: [{ file: target, message: describe(root), directory: true }] };
  }
  if (!root.isDirectory()) return { files: [target], unreadable };

  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      unreadable.push({ file: dir, message: describe(err), directory: true });
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      if (!isConfigFileName(e.name)) continue;
      if (e.isFile()) {
        files.push(p);
        continue;
      }
      // A link, a FIFO, a socket: only what resolves to a regular file is read (a FIFO would
      // block the reader forever).
      const st = await stat(p).catch((err: unknown) => err as NodeJS.ErrnoException);
      if (st instanceof Error) unreadable.push({ file: p, message: describe(st), directory: false });
      else if (st.isFile()) files.push(p);
      else if (!e.isSymbolicLink() || !st.isDirectory())
        unreadable.push({ file: p, message: 'cannot read: not a regular file', directory: false });
    }
  }
  await walk(target);
  const byPath = (a: { file: string } | string, b: { file: string } | string) => {
    const x = typeof a === 'string' ? a : a.file;
    const y = typeof b === 'string' ? b : b.file;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return { files: files.sort(byPath), unreadable: unreadable.sort(byPath) };
}

/**
 * Every config file under `target` with its text, and every entry that could not be read, in
 * one list sorted by path. Never throws for a file system error.
 */
export async function readConfigFiles(target: string): Promise<ConfigFileEntry[]> {
  const { files, unreadable } = await listConfigFiles(target);
  const out: ConfigFileEntry[] = [...unreadable];
  for (const file of files) {
    try {
      out.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      out.push({ file, message: describe(err), directory: false });
    }
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
