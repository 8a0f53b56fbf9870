/**
 * Pure route selection, Envoy's rules: pick the virtual host by the request authority (exact,
 * then longest `*.suffix`, then longest `prefix*`, then `*`; a domain with a port matches only
 * that authority, a domain without one also matches the host part), then the first route whose
 * match accepts the request. No I/O: tested as a table.
 */
import type { ForwardAction, Route, RouteMatch, RouteTable, VirtualHost } from '../model/config.js';

export interface RoutableRequest {
  /** :authority / Host, as sent. */
  authority: string;
  /** Path with query. */
  path: string;
  method: string;
  /** Lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Dynamic metadata by filter namespace, once filters wrote some (jwt_authn's payload). */
  metadata?: Readonly<Record<string, unknown>> | undefined;
}

export function selectVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  const full = authority.toLowerCase();
  const host = stripPort(full);
  let best: VirtualHost | undefined;
  let bestRank = -1;
  let bestLen = -1;
  for (const vh of table.virtualHosts) {
    for (const d of vh.domains) {
      const rank = domainRank(d, full, host);
      if (rank < 0) continue;
      const len = d.length;
      if (rank > bestRank || (rank === bestRank && len > bestLen)) {
        best = vh;
        bestRank = rank;
        bestLen = len;
      }
    }
  }
  return best;
}

/** 3 exact, 2 suffix wildcard, 1 prefix wildcard, 0 catch-all, -1 no match. */
function domainRank(domain: string, full: string, host: string): number {
  if (domain === '*') return 0;
  if (domain === full || domain === host) return 3;
  if (domain.startsWith('*')) {
    const suffix = domain.slice(1);
    // Envoy requires at least one character before the suffix.
    if (
      (full.length > suffix.length && full.endsWith(suffix)) ||
      (host.length > suffix.length && host.endsWith(suffix))
    )
      return 2;
    return -1;
  }
  if (domain.endsWith('*')) {
    // The host part is a prefix of the full authority: checking the full one covers both.
    const prefix = domain.slice(0, -1);
    if (full.length > prefix.length && full.startsWith(prefix)) return 1;
  }
  return -1;
}

export function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end === -1 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}

export function matchRoute(vh: VirtualHost, req: RoutableRequest): Route | undefined {
  for (const r of vh.routes) if (routeMatches(r.match, req)) return r;
  return undefined;
}

export function routeMatches(m: RouteMatch, req: RoutableRequest): boolean {
  const q = req.path.indexOf('?');
  const rawPath = q === -1 ? req.path : req.path.slice(0, q);
  const path = m.caseSensitive ? rawPath : rawPath.toLowerCase();
  const pm = m.path;
  switch (pm.kind) {
    case 'prefix':
      if (!path.startsWith(pm.value)) return false;
      break;
    case 'path':
      if (path !== pm.value) return false;
      break;
    case 'separated':
      if (!(path === pm.value || path.startsWith(pm.value.endsWith('/') ? pm.value : `${pm.value}/`)))
        return false;
      break;
    case 'regex':
      if (!pm.regex?.test(rawPath)) return false;
      break;
  }
  if (m.grpcOnly && !String(req.headers['content-type'] ?? '').startsWith('application/grpc')) return false;
  if (!m.headers(req.headers)) return false;
  if (m.query && !m.query(new URLSearchParams(q === -1 ? '' : req.path.slice(q + 1)))) return false;
  if (m.metadata && !m.metadata(req.metadata)) return false;
  return true;
}

/** The path after prefix_rewrite / regex_rewrite, keeping the query string. */
export function rewritePath(route: Route, action: ForwardAction, path: string): string {
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q);
  if (
    action.prefixRewrite !== undefined &&
    (route.match.path.kind === 'prefix' || route.match.path.kind === 'separated')
  ) {
    const matched = route.match.path.value.length;
    let rest = bare.slice(matched);
    let prefix = action.prefixRewrite;
    // Avoid `//` when both the rewrite ends and the rest starts with a slash.
    if (prefix.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
    if (prefix === '' && !rest.startsWith('/')) prefix = '/';
    return `${prefix}${rest}${query}`;
  }
  // Envoy: the matched path of an exact or regex match is the whole path, so prefix_rewrite
  // replaces all of it (the query stays).
  if (
    action.prefixRewrite !== undefined &&
    (route.match.path.kind === 'path' || route.match.path.kind === 'regex')
  )
    return `${action.prefixRewrite}${query}`;
  if (action.regexRewrite) {
    const { regex, substitution } = action.regexRewrite;
    regex.lastIndex = 0;
    return bare.replace(regex, substitution.replace(/\\(\d)/g, '$$$1')) + query;
  }
  return path;
}

/**
 * Why a route's match does not take a request, in words (for `trellis explain`): the first
 * condition it misses, checked in routeMatches' order; undefined when the route matches.
 */
export function explainRouteMiss(m: RouteMatch, req: RoutableRequest): string | undefined {
  if (routeMatches(m, req)) return undefined;
  const q = req.path.indexOf('?');
  const rawPath = q === -1 ? req.path : req.path.slice(0, q);
  const pathOnly = { ...m, headers: () => true, query: undefined, metadata: undefined, grpcOnly: false };
  if (!routeMatches(pathOnly, req)) {
    const how = {
      prefix: 'does not start with',
      path: 'is not',
      separated: 'is not and does not start with the segment',
      regex: 'does not match regex',
    }[m.path.kind];
    const fold = m.caseSensitive || m.path.kind === 'regex' ? '' : ' (ignoring case)';
    return `path ${JSON.stringify(rawPath)} ${how} ${JSON.stringify(m.path.value)}${fold}`;
  }
  if (m.grpcOnly && !String(req.headers['content-type'] ?? '').startsWith('application/grpc'))
    return 'only gRPC requests (content-type application/grpc) match';
  if (!m.headers(req.headers)) {
    const miss = m.conditions?.headers.find((c) => !c.test(req.headers));
    return miss ? `needs ${miss.describe}` : 'a header condition does not match';
  }
  const params = new URLSearchParams(q === -1 ? '' : req.path.slice(q + 1));
  if (m.query && !m.query(params)) {
    const miss = m.conditions?.query.find((c) => !c.test(params));
    return miss ? `needs ${miss.describe}` : 'a query parameter condition does not match';
  }
  return 'needs dynamic metadata the request does not have (a JWT claim written by jwt_authn)';
}
