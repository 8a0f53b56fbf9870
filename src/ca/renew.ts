import type { Random } from '../core/random.js';

export interface RenewOptions {
  /** Fraction of the lifetime after which to renew. Default 0.5 (half-life). */
  ratio?: number;
  /** Up to this fraction of the lifetime earlier, at random, so a fleet spreads out. Default 0.1. */
  jitter?: number;
}

/**
 * When a workload should renew a certificate valid from `notBeforeMs` to `notAfterMs`:
 * `notBefore + lifetime * (ratio - jitter * random())`, never before notBefore. The jitter only
 * moves renewal earlier, so no workload waits past its ratio of the lifetime.
 */
export function renewAt(
  notBeforeMs: number,
  notAfterMs: number,
  random: Random,
  options: RenewOptions = {},
): number {
  const ratio = options.ratio ?? 0.5;
  const jitter = Math.min(options.jitter ?? 0.1, ratio);
  const lifetime = Math.max(0, notAfterMs - notBeforeMs);
  return notBeforeMs + Math.floor(lifetime * (ratio - jitter * random()));
}
