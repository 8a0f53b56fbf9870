/**
 * The console's audit trail: every edit, who made it and how it ended. The last `limit` records
 * are kept in memory (what the console shows); with a file, each record is also appended to it
 * as one JSON line, and the file is never rewritten, so it is the durable history.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

export interface AuditRecord {
  /** ISO time. */
  at: string;
  user: string;
  role: string;
  action: 'apply' | 'delete';
  /** `Kind namespace/name` of every resource the edit named. */
  resources: string[];
  outcome: 'applied' | 'rejected' | 'failed';
  /** The store revision after an applied edit. */
  revision?: number;
  /** Why an edit was rejected: the validation problems with their field paths. */
  problems?: string[];
}

export const DEFAULT_AUDIT_LIMIT = 500;

export class AuditTrail {
  private readonly records: AuditRecord[] = [];
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly opts: { clock: Clock; file?: string; limit?: number; logger?: Logger }) {}

  record(entry: Omit<AuditRecord, 'at'>): AuditRecord {
    const full: AuditRecord = { at: new Date(this.opts.clock.wallNow()).toISOString(), ...entry };
    this.records.push(full);
    const limit = this.opts.limit ?? DEFAULT_AUDIT_LIMIT;
    if (this.records.length > limit) this.records.splice(0, this.records.length - limit);
    const file = this.opts.file;
    if (file !== undefined) {
      // In order, one line each; a failed write is logged and does not stop the edit.
      this.writes = this.writes
        .then(async () => {
          await mkdir(path.dirname(file), { recursive: true });
          await appendFile(file, `${JSON.stringify(full)}\n`, { mode: 0o600 });
        })
        .catch((err: unknown) =>
          this.opts.logger?.error('could not append to the console audit file', {
            file,
            error: errorMessage(err),
          }),
        );
    }
    return full;
  }

  /** Newest first. */
  list(): AuditRecord[] {
    return [...this.records].reverse();
  }

  /** Resolves once every record so far is in the file. */
  flushed(): Promise<void> {
    return this.writes;
  }
}
