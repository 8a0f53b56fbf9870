/**
 * Which connected proxy a user means. Accepted, in this order (istioctl accepts `pod.namespace`;
 * Trellis has no pods, so the workload stands in for it):
 *   1. the full xDS id (`sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local`);
 *   2. the workload name (`productpage-v1`) or `name.namespace` (`productpage-v1.default`);
 *   3. a unique prefix of the id (`sidecar~127.0.0.1~product`).
 * A name that matches nothing, or more than one proxy at the first step that matches at all, is
 * an error listing the candidates. Pure: the caller fetches the proxies (/debug/syncz). Shared by
 * the CLI (cli/connected-proxies.ts) and the control plane (GET /v1/explain?from=).
 */

/** What the resolver needs of a /debug/syncz row. */
export interface NamedProxy {
  proxy: string;
  namespace?: string;
  workloadName?: string;
}

export type ProxyResolution =
  | { ok: true; id: string }
  | { ok: false; reason: 'none-connected' | 'unknown' | 'ambiguous'; message: string };

/** `NAME.NAMESPACE` from the id's third part (Istio's convention), for proxies that send no metadata. */
function idName(id: string): string {
  const parts = id.split('~');
  return parts.length >= 4 ? (parts[2] ?? '') : '';
}

/** The workload name and namespace a proxy is known by (metadata first, then its id). */
export function shortName(p: NamedProxy): string {
  const fromId = idName(p.proxy);
  const dot = fromId.lastIndexOf('.');
  const workload = p.workloadName || (dot > 0 ? fromId.slice(0, dot) : fromId) || p.proxy;
  const namespace = p.namespace || (dot > 0 ? fromId.slice(dot + 1) : '') || 'default';
  return `${workload}.${namespace}`;
}

function names(p: NamedProxy): Set<string> {
  const short = shortName(p);
  const out = new Set([short, short.slice(0, short.lastIndexOf('.'))]);
  const fromId = idName(p.proxy);
  if (fromId) out.add(fromId);
  return out;
}

const MAX_LISTED = 10;

function listCandidates(proxies: readonly NamedProxy[]): string {
  const lines = proxies
    .slice(0, MAX_LISTED)
    .map((p) => `  ${shortName(p).padEnd(30)} ${p.proxy}`)
    .join('\n');
  const more = proxies.length > MAX_LISTED ? `\n  ... and ${proxies.length - MAX_LISTED} more` : '';
  return lines + more;
}

export function resolveProxyName(query: string, proxies: readonly NamedProxy[]): ProxyResolution {
  const exact = proxies.find((p) => p.proxy === query);
  if (exact) return { ok: true, id: exact.proxy };
  if (proxies.length === 0) {
    return {
      ok: false,
      reason: 'none-connected',
      message: `no proxy ${JSON.stringify(query)}: no proxies are connected to this control plane (start them with 'trellis up' or 'trellis proxy')`,
    };
  }
  const byName = proxies.filter((p) => names(p).has(query));
  const matches =
    byName.length > 0 ? byName : proxies.filter((p) => query !== '' && p.proxy.startsWith(query));
  if (matches.length === 1) return { ok: true, id: (matches[0] as NamedProxy).proxy };
  const sorted = [...(matches.length ? matches : proxies)].sort((a, b) => a.proxy.localeCompare(b.proxy));
  if (matches.length > 1) {
    return {
      ok: false,
      reason: 'ambiguous',
      message:
        `proxy ${JSON.stringify(query)} is ambiguous: ${matches.length} proxies match; name one by its full id or a longer id prefix:\n` +
        listCandidates(sorted),
    };
  }
  return {
    ok: false,
    reason: 'unknown',
    message:
      `no connected proxy ${JSON.stringify(query)}; name a proxy by its workload name, NAME.NAMESPACE or a prefix of its id. Connected:\n` +
      listCandidates(sorted),
  };
}
