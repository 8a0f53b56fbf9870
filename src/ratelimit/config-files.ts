/**
 * Configuration from disk: one YAML file, or every *.yaml / *.yml file in a directory (one
 * domain per document, as envoyproxy/ratelimit's runtime directory holds them). Watched with
 * fs.watch and a debounce; an invalid edit is logged with its file and field paths and the
 * last good configuration stays in force.
 */
import fs from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { Problems, TrellisError, errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { configError, parseConfigYaml, validateDomainConfig, type DomainConfig } from './config.js';
import type { RateLimitService } from './service.js';

const YAML_FILE = /\.ya?ml$/i;

function listFiles(target: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch (err) {
    throw new TrellisError('TRELLIS_NOT_FOUND', `cannot read rate limit config: ${errorMessage(err)}`, {
      file: target,
      cause: err,
    });
  }
  if (!stat.isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((f) => YAML_FILE.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(target, f));
}

/** Reads and validates every domain under `target`; throws naming the file and field paths. */
export function loadConfigPath(target: string): { domains: DomainConfig[]; files: string[] } {
  const files = listFiles(target);
  const domains: DomainConfig[] = [];
  const owner = new Map<string, string>();
  for (const file of files) {
    const docs = parseConfigYaml(fs.readFileSync(file, 'utf8'), file);
    const p = new Problems();
    docs.forEach((doc, i) => {
      const at = docs.length > 1 ? `document ${i}` : '';
      if (!validateDomainConfig(doc, p, at)) return;
      const other = owner.get(doc.domain);
      if (other !== undefined) {
        p.error(
          at ? `${at}.domain` : 'domain',
          `domain ${JSON.stringify(doc.domain)} is already defined in ${other}`,
        );
        return;
      }
      owner.set(doc.domain, file);
      domains.push(doc);
    });
    if (!p.ok) throw configError(p, file);
  }
  return { domains, files };
}

export interface ConfigWatcherOptions {
  path: string;
  service: RateLimitService;
  logger?: Logger;
  clock?: Clock;
  debounceMs?: number;
}

/** Keeps a service's configuration in step with files on disk. */
export class ConfigFileWatcher {
  private readonly target: string;
  private readonly service: RateLimitService;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private watcher: fs.FSWatcher | undefined;
  private pending: TimerHandle | undefined;
  private lastText: string | undefined;
  private readonly reloadListeners: ((ok: boolean) => void)[] = [];

  constructor(options: ConfigWatcherOptions) {
    this.target = path.resolve(options.path);
    this.service = options.service;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? 200;
  }

  /** First load: throws when the files are invalid, since there is no last good config yet. */
  load(): DomainConfig[] {
    const { domains, files } = loadConfigPath(this.target);
    this.service.setConfig(domains, this.target);
    this.lastText = JSON.stringify(domains);
    this.logger.info('loaded rate limit config', {
      files: files.length,
      domains: domains.map((d) => d.domain).join(',') || '(none)',
    });
    return domains;
  }

  /** Reloads now; returns false (and keeps the last good config) when the files are invalid. */
  reload(): boolean {
    try {
      const { domains } = loadConfigPath(this.target);
      const text = JSON.stringify(domains);
      if (text !== this.lastText) {
        this.service.setConfig(domains, this.target);
        this.lastText = text;
      }
      this.notify(true);
      return true;
    } catch (err) {
      this.service.metrics.configReloadErrors++;
      this.logger.error('rate limit config rejected; keeping the last good one', {
        error: errorMessage(err),
      });
      this.notify(false);
      return false;
    }
  }

  /** Watches the file (through its directory, so editors that replace files are seen) or directory. */
  watch(): void {
    if (this.watcher) return;
    const isDir = fs.statSync(this.target).isDirectory();
    const dir = isDir ? this.target : path.dirname(this.target);
    const base = path.basename(this.target);
    this.watcher = fs.watch(dir, (_event, filename) => {
      const name = filename?.toString();
      if (!isDir && name !== undefined && name !== base) return;
      if (isDir && name !== undefined && !YAML_FILE.test(name)) return;
      this.schedule();
    });
    this.watcher.on('error', (err) => this.logger.warn('config watch failed', { error: errorMessage(err) }));
  }

  /** Called after every reload attempt triggered by the watcher (for tests and progress). */
  onReload(listener: (ok: boolean) => void): void {
    this.reloadListeners.push(listener);
  }

  close(): void {
    this.pending?.cancel();
    this.pending = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private schedule(): void {
    this.pending?.cancel();
    this.pending = this.clock.setTimeout(() => {
      this.pending = undefined;
      this.reload();
    }, this.debounceMs);
  }

  private notify(ok: boolean): void {
    for (const l of this.reloadListeners) l(ok);
  }
}
