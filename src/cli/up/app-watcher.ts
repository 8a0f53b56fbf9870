/**
 * `trellis up --watch`: a workload is restarted when its code changes (source files in its
 * working directory, and in the directory of the script it runs if that lies elsewhere).
 * Editors write in several steps and builds touch many files, so changes are debounced. Only
 * source files count: an app that writes its data, logs or state (.json, .log, .db) into its
 * own directory would otherwise restart itself for ever. Dependencies (node_modules), hidden
 * entries (.git, .trellis-state) and the mesh's config directory (applied live without
 * restarts) are ignored.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../../core/clock.js';

/** Extensions of source files: what a person edits to change an app. */
export const SOURCE_EXTENSIONS: ReadonlySet<string> = new Set(
  [
    'js',
    'mjs',
    'cjs',
    'jsx',
    'ts',
    'mts',
    'cts',
    'tsx',
    'py',
    'rb',
    'go',
    'rs',
    'java',
    'kt',
    'php',
    'sh',
    'pl',
    'lua',
    'ex',
    'exs',
    'cs',
    'swift',
  ].map((e) => `.${e}`),
);

/** Whether a change to `name` (relative to the watched `root`) is a change to the app's code. */
export function isAppChange(root: string, name: string, ignoredDirs: readonly string[]): boolean {
  if (!SOURCE_EXTENSIONS.has(path.extname(name))) return false;
  const parts = name.split(path.sep);
  if (parts.some((p) => p === 'node_modules' || (p.startsWith('.') && p !== '.' && p !== '..'))) return false;
  const file = path.join(root, name);
  return !ignoredDirs.some((d) => file === d || file.startsWith(d + path.sep));
}

/** The directories to watch: the working directory, and the script's if it lies outside. */
export function watchRoots(command: readonly string[], workingDir: string): string[] {
  const roots = [workingDir];
  const script = command.slice(1).find((a) => !a.startsWith('-') && SOURCE_EXTENSIONS.has(path.extname(a)));
  if (script !== undefined) {
    const dir = path.dirname(path.resolve(workingDir, script));
    if (!roots.some((r) => dir === r || dir.startsWith(r + path.sep))) roots.push(dir);
  }
  return roots;
}

export interface AppWatcherOptions {
  roots: readonly string[];
  ignoredDirs: readonly string[];
  clock: Clock;
  /** Quiet time after the last change before `onChange`. */
  debounceMs?: number;
  /** Called once per burst of changes with one of the files changed. */
  onChange: (file: string) => void;
  onError?: (message: string) => void;
}

export class AppWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: TimerHandle | undefined;
  private last = '';
  private closed = false;

  constructor(private readonly opts: AppWatcherOptions) {}

  start(): void {
    for (const root of this.opts.roots) {
      try {
        const w = watch(root, { recursive: true }, (_event, name) => {
          if (name === null) return;
          if (isAppChange(root, String(name), this.opts.ignoredDirs))
            this.changed(path.join(root, String(name)));
        });
        w.on('error', (err) => this.opts.onError?.(`cannot watch ${root}: ${err.message}`));
        this.watchers.push(w);
      } catch (err) {
        this.opts.onError?.(`cannot watch ${root}: ${(err as Error).message}`);
      }
    }
  }

  private changed(file: string): void {
    if (this.closed) return;
    this.last = file;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.opts.onChange(this.last);
    }, this.opts.debounceMs ?? 300);
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    for (const w of this.watchers) w.close();
  }
}
