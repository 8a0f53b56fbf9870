/**
 * Config that is accepted and served but probably not what its author meant, found by analyzing
 * each push context (VirtualService subsets no DestinationRule defines, Istio's IST0101; security
 * policies enforced differently from what they say, see security/authorization-warnings.ts).
 * Each warning is logged once when it appears and once when it is resolved, and listed at
 * /debug/config_errors beside the rejected inputs, with `severity: warning` on its problem.
 */
import type { Clock } from '../core/clock.js';
import type { Problem } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { missingSubsets } from '../xds/analysis/destination-subsets.js';
import { securityWarnings } from '../xds/translate/security/authorization-warnings.js';
import { peerAuthenticationWarnings } from '../xds/analysis/peer-authentication.js';
import type { PushContext } from '../xds/translate/index.js';

export interface ConfigWarning {
  /** The resource the warning is about, and the file defining it when the store knows it. */
  source: { kind: string; namespace: string; name: string; file?: string };
  problems: readonly Problem[];
  /** When it was first seen (ms since epoch). */
  at: number;
}

export class ConfigWarnings {
  private current = new Map<string, ConfigWarning>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The file that defines a resource, for stores that read files. */
    private readonly fileOf: (kind: string, namespace: string, name: string) => string | undefined,
  ) {}

  list(): ConfigWarning[] {
    return [...this.current.values()];
  }

  /** Analyzes the push context about to be served; logs what appeared and what was resolved. */
  update(push: PushContext): void {
    const next = new Map<string, ConfigWarning>();
    for (const m of [
      ...missingSubsets(push),
      ...securityWarnings(push),
      ...peerAuthenticationWarnings(push),
    ]) {
      const { kind, metadata } = m.resource;
      const key = `${kind}/${metadata.namespace}/${metadata.name}|${m.path}|${m.reference}`;
      const file = this.fileOf(kind, metadata.namespace, metadata.name);
      const known = this.current.get(key);
      next.set(key, {
        source: { kind, namespace: metadata.namespace, name: metadata.name, ...(file ? { file } : {}) },
        problems: [{ severity: 'warning', path: m.path, message: m.message }],
        at: known?.at ?? this.clock.wallNow(),
      });
      if (!known) {
        this.logger.warn(`${kind} ${metadata.namespace}/${metadata.name}: ${m.path}: ${m.message}`, {
          ...(file ? { file } : {}),
        });
      }
    }
    for (const [key, w] of this.current) {
      if (!next.has(key)) {
        const { kind, namespace, name } = w.source;
        this.logger.info(`${kind} ${namespace}/${name}: ${w.problems[0]?.path ?? ''}: resolved`);
      }
    }
    this.current = next;
  }
}
