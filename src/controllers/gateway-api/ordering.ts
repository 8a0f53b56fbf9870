/**
 * The Gateway API's order of HTTPRoute rules across routes (HTTPRouteRule's documented
 * precedence): an Exact path before a regular expression before a prefix, a longer path before
 * a shorter one, a method match before none, more header matches, then more query parameter
 * matches; then the older route (creationTimestamp), then `namespace/name` alphabetically, then
 * the rule and match order within the route.
 */

export interface MatchRank {
  pathType: 'Exact' | 'RegularExpression' | 'PathPrefix';
  pathLength: number;
  method: boolean;
  headers: number;
  queryParams: number;
  /** RFC 3339 or absent (sorted last among equals). */
  created?: string;
  /** `namespace/name` of the route. */
  route: string;
  rule: number;
  match: number;
}

const TYPE_ORDER = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

export function compareMatches(a: MatchRank, b: MatchRank): number {
  return (
    TYPE_ORDER[a.pathType] - TYPE_ORDER[b.pathType] ||
    b.pathLength - a.pathLength ||
    Number(b.method) - Number(a.method) ||
    b.headers - a.headers ||
    b.queryParams - a.queryParams ||
    compareCreated(a.created, b.created) ||
    (a.route < b.route ? -1 : a.route > b.route ? 1 : 0) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}

/** Undated or unreadable timestamps sort after every dated one. */
function timeOf(s: string | undefined): number {
  const t = Date.parse(s ?? '');
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function compareCreated(a: string | undefined, b: string | undefined): number {
  const ta = timeOf(a);
  const tb = timeOf(b);
  return ta === tb ? 0 : ta < tb ? -1 : 1;
}
