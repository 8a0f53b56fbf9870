/**
 * Retry budgets on outbound clusters (issue #13): Envoy's circuit_breakers.thresholds[].retry_budget
 * caps the retries in flight at once to a share of the cluster's active and pending requests
 * (at least min_retry_concurrency), and replaces max_retries when set.
 *
 * Istio leaves max_retries at its maximum, so a failing service called with Istio's default
 * policy (2 retries) can see its traffic tripled. Trellis puts a budget on every outbound
 * cluster by default, Envoy's own defaults (20% of active requests, at least 3): a failing
 * service sees at most about a quarter more requests than its callers send, while a lone
 * request's retries (3 at once) still go through. The DestinationRule annotation
 * `trellis.io/retry-budget` sets other numbers or `off` (no budget: max_retries applies). A
 * DestinationRule that sets connectionPool.http.maxRetries without the annotation keeps that
 * explicit cap and gets no default budget, as Istio users expect of the field.
 *
 * Proxyless gRPC implements no retry budget (gRFC A32 reads max_requests only), so its clusters
 * get none.
 */
import type { ConnectionPoolSettings } from '../../api/networking/types.js';
import { DEFAULT_RETRY_BUDGET, type RetryBudgetSetting } from '../../api/trellis-annotations.js';
import type { Cluster } from '../../protocol/envoy-types.js';
import { wrapU32 } from './envoy.js';

/** The budget a cluster gets: the annotation's, else the default unless maxRetries is set. */
export function effectiveRetryBudget(
  pool: ConnectionPoolSettings | undefined,
  annotation: RetryBudgetSetting | 'off' | undefined,
): RetryBudgetSetting | undefined {
  if (annotation === 'off') return undefined;
  if (annotation !== undefined) return annotation;
  const maxRetries = pool?.http?.maxRetries;
  if (maxRetries !== undefined && maxRetries > 0) return undefined;
  return DEFAULT_RETRY_BUDGET;
}

/** Adds the budget to the DEFAULT threshold of an Envoy-flavoured cluster's circuit breakers. */
export function applyRetryBudget(
  cluster: Cluster,
  pool: ConnectionPoolSettings | undefined,
  annotation: RetryBudgetSetting | 'off' | undefined,
): void {
  const threshold = cluster.circuit_breakers?.thresholds?.find(
    (t) => t.priority === undefined || t.priority === 'DEFAULT',
  );
  // Proxyless gRPC clusters carry max_requests alone, or no circuit breakers.
  if (threshold === undefined || threshold.max_retries === undefined) return;
  const budget = effectiveRetryBudget(pool, annotation);
  if (budget === undefined) return;
  threshold.retry_budget = {
    budget_percent: { value: budget.budgetPercent },
    min_retry_concurrency: wrapU32(budget.minRetryConcurrency),
  };
}
