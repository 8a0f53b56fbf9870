/**
 * Which hostnames a route serves on a listener: the Gateway API's intersection of the route's
 * `hostnames` with the listener's `hostname` (the more specific of two that match each other;
 * a route without hostnames takes the listener's, a listener without one takes the route's).
 */

/** `*.example.com` matches `a.example.com` and `a.b.example.com`, never `example.com`. */
export function wildcardMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  // `.example.com`: a valid hostname never starts with a dot, so it has a label before it.
  return host.endsWith(pattern.slice(1));
}

/** The hostname two names share, or undefined when they share none. */
export function intersectHostname(route: string, listener: string | undefined): string | undefined {
  if (listener === undefined || listener === '' || listener === '*') return route;
  if (wildcardMatches(listener, route)) return route;
  if (wildcardMatches(route, listener)) return listener;
  return undefined;
}

/** The hostnames a route serves on a listener; empty when they intersect nowhere. */
export function effectiveHostnames(
  routeHostnames: readonly string[] | undefined,
  listener: string | undefined,
): string[] {
  if (routeHostnames === undefined || routeHostnames.length === 0) return [listener || '*'];
  const out = new Set<string>();
  for (const h of routeHostnames) {
    const shared = intersectHostname(h, listener);
    if (shared !== undefined) out.add(shared);
  }
  return [...out];
}
