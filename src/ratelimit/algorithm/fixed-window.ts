/**
 * Fixed window, as envoyproxy/ratelimit counts: one counter per descriptor per window, windows
 * aligned to the epoch on the wall clock (so every replica agrees on where a minute starts),
 * incremented by hits_addend whether or not the request passes.
 */
import type { CompiledLimit } from '../config.js';
import { NEAR_LIMIT_RATIO, blockedDecision, type LimitDecision } from './decision.js';

export type WindowLimit = Pick<CompiledLimit, 'requestsPerUnit' | 'unitMs'>;

export function windowStart(wallNow: number, unitMs: number): number {
  return Math.floor(wallNow / unitMs) * unitMs;
}

/** The decision once the window's counter reads `countAfter` (this request's hits included). */
export function windowDecision(limit: WindowLimit, countAfter: number, wallNow: number): LimitDecision {
  if (limit.requestsPerUnit === 0) return blockedDecision(limit.unitMs);
  const resetMs = windowStart(wallNow, limit.unitMs) + limit.unitMs - wallNow;
  const overLimit = countAfter > limit.requestsPerUnit;
  return {
    overLimit,
    remaining: Math.max(0, limit.requestsPerUnit - countAfter),
    resetMs,
    nearLimit: !overLimit && countAfter > Math.floor(limit.requestsPerUnit * NEAR_LIMIT_RATIO),
  };
}
