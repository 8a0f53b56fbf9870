/**
 * What a route does, in two short cells of the `proxy-config routes` table:
 *   DESTINATION  the cluster, the weighted clusters with their share (`v1 90%, v3 10%`), a direct
 *                response (`direct 418`) or a redirect (`redirect https://...`);
 *   POLICY       timeout, retries (count, per-try timeout, retry_on unless Istio's default),
 *                faults (delay and abort with their percentage), from the route's fault filter
 *                config.
 * The dump shapes differ in small ways (a Duration as `"2.5s"` or `{seconds, nanos}`, a
 * UInt32Value as `2` or `{value: 2}`); both are read. Pure: table-tested.
 */
import { arr, obj, parseClusterName, type Json } from './config-dump.js';

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** `2.5s`, `{seconds: 2, nanos: 5e8}`, `{seconds: "2"}` -> milliseconds; undefined when absent. */
export function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const d = v as { seconds?: unknown; nanos?: unknown };
  return Number(d.seconds ?? 0) * 1000 + Math.round(Number(d.nanos ?? 0) / 1e6);
}

/** `2500` -> `2.5s`, `300` -> `300ms`, `60000` -> `1m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

const uint = (v: unknown): number | undefined => {
  const n = typeof v === 'object' && v !== null ? (v as { value?: unknown }).value : v;
  return n === undefined || n === null || n === '' ? undefined : Number(n);
};

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** A FractionalPercent (`{numerator, denominator}`) as a percentage; absent means 100%. */
export function percentOf(v: unknown): number {
  if (v === undefined || v === null) return 100;
  const p = obj(v);
  const den =
    DENOMINATORS[str(p.denominator)] ??
    (typeof p.denominator === 'number' ? [100, 10_000, 1_000_000][p.denominator] : 100) ??
    100;
  const pct = (Number(p.numerator ?? 0) * 100) / den;
  return Math.round(pct * 1e4) / 1e4;
}

/** Istio's default retry_on (networking/core/route/retry): not worth printing on every route. */
const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/** A cluster name as short as it can be while still naming it. */
function clusterLabel(name: string, all: readonly string[]): string {
  const { direction, port, subset, fqdn } = parseClusterName(name);
  if (direction !== 'outbound') return name;
  const sameHost = all.every((n) => parseClusterName(n).fqdn === fqdn && parseClusterName(n).port === port);
  if (sameHost && all.length > 1) return subset || '(no subset)';
  return `${fqdn.split('.')[0] ?? fqdn}:${port}${subset ? `|${subset}` : ''}`;
}

export function routeDestination(route: Json): string {
  const action = obj(route.route);
  if (route.directResponse !== undefined) return `direct ${str(obj(route.directResponse).status)}`;
  if (route.redirect !== undefined) {
    const r = obj(route.redirect);
    const target = [
      str(r.schemeRedirect) ? `${str(r.schemeRedirect)}://` : r.httpsRedirect ? 'https://' : '',
      str(r.hostRedirect),
      str(r.pathRedirect) || str(r.prefixRewrite),
    ].join('');
    return `redirect ${target || '(same URL)'}`;
  }
  if (action.cluster !== undefined) return clusterLabel(str(action.cluster), [str(action.cluster)]);
  const weighted = arr(obj(action.weightedClusters).clusters).map(obj);
  if (weighted.length) {
    const total = weighted.reduce((s, c) => s + (uint(c.weight) ?? 0), 0) || 1;
    const names = weighted.map((c) => str(c.name));
    return weighted
      .map(
        (c, i) =>
          `${clusterLabel(names[i] ?? '', names)} ${Math.round(((uint(c.weight) ?? 0) * 1000) / total) / 10}%`,
      )
      .join(', ');
  }
  if (action.clusterHeader !== undefined) return `header ${str(action.clusterHeader)}`;
  return '-';
}

export function routePolicy(route: Json): string {
  const parts: string[] = [];
  const action = obj(route.route);
  const timeout = durationMs(action.timeout);
  if (timeout !== undefined && timeout > 0) parts.push(`timeout ${formatDuration(timeout)}`);
  const retry = obj(action.retryPolicy);
  if (Object.keys(retry).length) {
    const n = uint(retry.numRetries) ?? 1; // Envoy's default is one retry
    if (n === 0) parts.push('no retries');
    else {
      const perTry = durationMs(retry.perTryTimeout);
      const on = str(retry.retryOn);
      parts.push(
        `retries ${n}${perTry ? ` x ${formatDuration(perTry)}` : ''}${on && on !== ISTIO_DEFAULT_RETRY_ON ? ` on ${on}` : ''}`,
      );
    }
  }
  const perFilter = obj(route.typedPerFilterConfig ?? route.typed_per_filter_config);
  const fault = obj(perFilter['envoy.filters.http.fault']);
  const delay = obj(fault.delay);
  if (Object.keys(delay).length) {
    const ms = durationMs(delay.fixedDelay);
    parts.push(`delay ${ms !== undefined ? formatDuration(ms) : '?'} ${percentOf(delay.percentage)}%`);
  }
  const abort = obj(fault.abort);
  if (Object.keys(abort).length) {
    const code =
      str(abort.httpStatus) || (abort.grpcStatus !== undefined ? `grpc ${str(abort.grpcStatus)}` : '?');
    parts.push(`abort ${code} ${percentOf(abort.percentage)}%`);
  }
  if (action.mirrorPolicies !== undefined && arr(action.mirrorPolicies).length) {
    parts.push(
      `mirror ${arr(action.mirrorPolicies)
        .map((m) => str(obj(m).cluster))
        .join(',')}`,
    );
  }
  return parts.join('; ') || '-';
}
