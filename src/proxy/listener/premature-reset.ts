/**
 * Envoy's protection against HTTP/2 rapid reset (CVE-2023-44487) and similar abuse: a
 * connection whose streams are mostly reset by the client before they got a response is
 * closed. A stream is "premature" when it closed within PREMATURE_RESET_MIN_LIFETIME_MS of its
 * start without a response having been sent (Envoy's premature_reset_min_stream_lifetime_seconds,
 * 1 s). Once PREMATURE_RESET_TOTAL_STREAMS streams have closed (Envoy's
 * premature_reset_total_stream_count, 500), the connection is closed if half or more were
 * premature; before that, as soon as the premature ones alone reach half the limit, since no
 * number of good streams could then save it. Pure bookkeeping, table-tested.
 */
export const PREMATURE_RESET_MIN_LIFETIME_MS = 1000;
export const PREMATURE_RESET_TOTAL_STREAMS = 500;

export class PrematureResetTracker {
  private closed = 0;
  private premature = 0;

  constructor(private readonly limit = PREMATURE_RESET_TOTAL_STREAMS) {}

  /** Records a closed stream; true when the connection must now be closed. */
  streamClosed(lifetimeMs: number, responded: boolean): boolean {
    this.closed++;
    if (!responded && lifetimeMs <= PREMATURE_RESET_MIN_LIFETIME_MS) this.premature++;
    if (this.closed < this.limit) return this.premature * 2 >= this.limit;
    return this.premature * 2 >= this.closed;
  }
}
