/**
 * HTTPRoute and GRPCRoute rules as Istio VirtualService http routes, one per match (so matches
 * of several routes can be ordered by the Gateway API's precedence, ordering.ts), as Istio's own
 * conversion does:
 *
 * - a PathPrefix `/p` matches whole path segments (`/p`, `/p/x`, never `/px`): two Istio matches,
 *   `exact: /p` and `prefix: /p/` (each its own route when a ReplacePrefixMatch rewrite needs
 *   the matched prefix);
 * - filters: header modifiers -> `headers`, RequestRedirect -> `redirect` (302 unless a
 *   statusCode says otherwise), URLRewrite -> `rewrite`, RequestMirror -> `mirrors`;
 * - backendRefs -> weighted destinations; a backend that does not resolve (or may not be
 *   referenced) keeps its weight on a host no service has, so its share of the traffic is
 *   answered 500 and the rest still flows; with no valid backend at all the rule answers 500;
 * - timeouts.request (or backendRequest) -> `timeout`; retry -> `retries`.
 */
import type {
  GRPCRouteMatch,
  HTTPBackendRef,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HeaderModifier,
  NameValueMatch,
} from '../../api/gateway/types.js';
import type {
  Destination,
  HTTPMatchRequest,
  HTTPRoute as IstioHTTPRoute,
  HTTPRouteDestination,
  HeaderOperations,
  StringMatch,
} from '../../api/networking/types.js';
import { gatewayDurationMs } from '../../api/gateway/validate-routes.js';
import type { MatchRank } from './ordering.js';
import { INVALID_BACKEND_HOST, type BackendResolution } from './references.js';

export interface RankedRoute {
  rank: MatchRank;
  route: IstioHTTPRoute;
}

/** What converting a route's rules found: ResolvedRefs and Accepted problems. */
export interface RuleProblems {
  /** Backends left out (RefNotPermitted, InvalidKind, BackendNotFound). */
  refs: { reason: string; message: string }[];
  /** Features Trellis cannot express; the route is not Accepted. */
  unsupported: string[];
}

export interface RuleInput {
  matches?: (HTTPRouteMatch | GRPCRouteMatch)[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
  sessionPersistence?: unknown;
}

export interface RouteInput {
  flavor: 'http' | 'grpc';
  /** `namespace/name`. */
  id: string;
  created?: string;
  rules: readonly RuleInput[];
  /** Resolves one backendRef (kind, namespace, grants). */
  resolve: (ref: HTTPBackendRef) => BackendResolution;
}

function nameValue(
  list: readonly NameValueMatch[] | undefined,
  lower: boolean,
): Record<string, StringMatch> | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const out: Record<string, StringMatch> = {};
  for (const m of list) {
    const key = lower ? m.name.toLowerCase() : m.name;
    // The first of two matches on one name wins (the API: later ones are ignored).
    if (key in out) continue;
    out[key] = m.type === 'RegularExpression' ? { regex: m.value } : { exact: m.value };
  }
  return out;
}

export interface PathPart {
  uri: StringMatch;
}

/** The Istio uri matches of one Gateway API path match. */
export function pathParts(type: string, value: string): PathPart[] {
  if (type === 'Exact') return [{ uri: { exact: value } }];
  if (type === 'RegularExpression') return [{ uri: { regex: value } }];
  const p = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  if (p === '/') return [{ uri: { prefix: '/' } }];
  return [{ uri: { exact: p } }, { uri: { prefix: `${p}/` } }];
}

function grpcPath(m: GRPCRouteMatch): { part: PathPart; rank: Pick<MatchRank, 'pathType' | 'pathLength'> } {
  const method = m.method;
  if (method === undefined)
    return { part: { uri: { prefix: '/' } }, rank: { pathType: 'PathPrefix', pathLength: 1 } };
  if ((method.type ?? 'Exact') === 'Exact') {
    if (method.service !== undefined && method.method !== undefined) {
      const v = `/${method.service}/${method.method}`;
      return { part: { uri: { exact: v } }, rank: { pathType: 'Exact', pathLength: v.length } };
    }
    if (method.service !== undefined) {
      const v = `/${method.service}/`;
      return { part: { uri: { prefix: v } }, rank: { pathType: 'PathPrefix', pathLength: v.length } };
    }
    // Validation holds Exact method names to [A-Za-z_][A-Za-z_0-9]*: nothing to escape.
    const v = `/[^/]+/${method.method ?? ''}`;
    return { part: { uri: { regex: v } }, rank: { pathType: 'RegularExpression', pathLength: v.length } };
  }
  const v = `/${method.service ?? '[^/]+'}/${method.method ?? '[^/]+'}`;
  return { part: { uri: { regex: v } }, rank: { pathType: 'RegularExpression', pathLength: v.length } };
}

function headerOps(m: HeaderModifier | undefined): HeaderOperations | undefined {
  if (m === undefined) return undefined;
  const out: HeaderOperations = {};
  if (m.set?.length) out.set = Object.fromEntries(m.set.map((h) => [h.name.toLowerCase(), h.value]));
  if (m.add?.length) out.add = Object.fromEntries(m.add.map((h) => [h.name.toLowerCase(), h.value]));
  if (m.remove?.length) out.remove = m.remove.map((h) => h.toLowerCase());
  return Object.keys(out).length ? out : undefined;
}

function invalidDestination(port: number | undefined): Destination {
  return { host: INVALID_BACKEND_HOST, ...(port !== undefined ? { port: { number: port } } : {}) };
}

function destinationOf(r: BackendResolution & { ok: true }): Destination {
  return { host: r.host, ...(r.port !== undefined ? { port: { number: r.port } } : {}) };
}

interface RuleAction {
  /** Everything but match and the prefix-dependent rewrite. */
  base: IstioHTTPRoute;
  /** ReplacePrefixMatch of a URLRewrite, applied per match half. */
  prefixRewrite?: string;
  /** ReplacePrefixMatch of a RequestRedirect, applied per match half. */
  prefixRedirect?: string;
  rewriteAuthority?: string;
}

function ruleAction(rule: RuleInput, input: RouteInput, problems: RuleProblems): RuleAction {
  const base: IstioHTTPRoute = {};
  const action: RuleAction = { base };
  if (rule.sessionPersistence !== undefined && rule.sessionPersistence !== null) {
    problems.unsupported.push(
      'sessionPersistence is not supported by Trellis; use an Istio DestinationRule with loadBalancer.consistentHash',
    );
  }
  const headers: { request?: HeaderOperations; response?: HeaderOperations } = {};
  for (const f of rule.filters ?? []) {
    switch (f.type) {
      case 'RequestHeaderModifier': {
        const ops = headerOps(f.requestHeaderModifier);
        if (ops) headers.request = ops;
        break;
      }
      case 'ResponseHeaderModifier': {
        const ops = headerOps(f.responseHeaderModifier);
        if (ops) headers.response = ops;
        break;
      }
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        if (r.path?.type === 'ReplacePrefixMatch' && r.path.replacePrefixMatch !== undefined) {
          action.prefixRedirect = r.path.replacePrefixMatch;
        }
        base.redirect = {
          redirectCode: r.statusCode ?? 302,
          ...(r.scheme !== undefined ? { scheme: r.scheme } : {}),
          ...(r.hostname !== undefined ? { authority: r.hostname } : {}),
          // The API: without a port, a new scheme redirects to that scheme's well-known port,
          // and without either the listener's port (filled in per listener, virtual-services.ts;
          // the proxy leaves out 80 for http and 443 for https).
          ...(r.port !== undefined
            ? { port: r.port }
            : r.scheme !== undefined
              ? { port: r.scheme === 'https' ? 443 : 80 }
              : { derivePort: 'FROM_REQUEST_PORT' as const }),
          ...(r.path?.type === 'ReplaceFullPath' && r.path.replaceFullPath !== undefined
            ? { uri: r.path.replaceFullPath }
            : {}),
        };
        break;
      }
      case 'URLRewrite': {
        const r = f.urlRewrite ?? {};
        if (r.hostname !== undefined) action.rewriteAuthority = r.hostname;
        if (r.path?.type === 'ReplaceFullPath' && r.path.replaceFullPath !== undefined) {
          base.rewrite = { uriRegexRewrite: { match: '^/.*$', rewrite: r.path.replaceFullPath } };
        } else if (r.path?.type === 'ReplacePrefixMatch' && r.path.replacePrefixMatch !== undefined) {
          action.prefixRewrite = r.path.replacePrefixMatch;
        }
        break;
      }
      case 'RequestMirror': {
        const m = f.requestMirror;
        if (m === undefined) break;
        const resolved = input.resolve(m.backendRef);
        if (!resolved.ok) {
          problems.refs.push({ reason: resolved.reason, message: `requestMirror: ${resolved.message}` });
          break;
        }
        const percent =
          m.percent ??
          (m.fraction !== undefined ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
        base.mirrors = [
          ...(base.mirrors ?? []),
          { destination: destinationOf(resolved), percentage: { value: percent } },
        ];
        break;
      }
      case 'ExtensionRef':
        problems.unsupported.push(
          `ExtensionRef filter ${f.extensionRef?.kind ?? ''} ${f.extensionRef?.name ?? ''}: Trellis implements no extension filters`,
        );
        break;
    }
  }
  if (headers.request || headers.response) base.headers = headers;
  if (base.redirect === undefined) {
    const dests: HTTPRouteDestination[] = [];
    const invalid: HTTPRouteDestination[] = [];
    for (const ref of rule.backendRefs ?? []) {
      const weight = ref.weight ?? 1;
      const resolved = input.resolve(ref);
      if (!resolved.ok) {
        problems.refs.push({ reason: resolved.reason, message: resolved.message });
        // Its share of the traffic is answered 500 (the API), the rest still flows.
        if (weight > 0) invalid.push({ destination: invalidDestination(resolved.port), weight });
        continue;
      }
      if (weight === 0) continue;
      const d: HTTPRouteDestination = { destination: destinationOf(resolved), weight };
      const req = headerOps(
        ref.filters?.find((x) => x.type === 'RequestHeaderModifier')?.requestHeaderModifier,
      );
      const res = headerOps(
        ref.filters?.find((x) => x.type === 'ResponseHeaderModifier')?.responseHeaderModifier,
      );
      if (req || res) d.headers = { ...(req ? { request: req } : {}), ...(res ? { response: res } : {}) };
      dests.push(d);
    }
    if (dests.length === 0) {
      // The API's answers: no backendRefs at all is 404; only invalid ones (or all weight 0) 500.
      const none = (rule.backendRefs?.length ?? 0) === 0;
      base.directResponse = none
        ? { status: 404, body: { string: 'route has no backendRefs' } }
        : {
            status: 500,
            body: {
              string: (rule.backendRefs ?? []).every((r) => r.weight === 0)
                ? 'no backend has weight'
                : 'no valid backend',
            },
          };
      delete base.mirrors;
    } else {
      const all = [...dests, ...invalid];
      base.route = all.length === 1 ? [stripWeight(all[0]!)] : all;
    }
  }
  const t = rule.timeouts;
  const timeout = t?.request ?? t?.backendRequest;
  if (timeout !== undefined && gatewayDurationMs(timeout) !== undefined)
    base.timeout = `${gatewayDurationMs(timeout)}ms`;
  if (rule.retry !== undefined) {
    base.retries = {
      attempts: rule.retry.attempts ?? 1,
      ...(rule.retry.codes?.length ? { retryOn: rule.retry.codes.join(',') } : {}),
      ...(rule.retry.backoff !== undefined ? { backoff: rule.retry.backoff } : {}),
    };
  }
  if (t?.backendRequest !== undefined && t.request !== undefined) {
    base.retries = {
      ...(base.retries ?? { attempts: 0 }),
      perTryTimeout: `${gatewayDurationMs(t.backendRequest)}ms`,
    };
  }
  return action;
}

function stripWeight(d: HTTPRouteDestination): HTTPRouteDestination {
  const { weight: _weight, ...rest } = d;
  return rest;
}

/**
 * The API's ReplacePrefixMatch table: the matched prefix (whole path segments, a trailing `/` of
 * the prefix or the replacement ignored) is replaced; an empty replacement or `/` removes it, and
 * a path left empty is `/`. The exact half of a match (`/p`) is the whole prefix: R, or `/`; the
 * prefix half (`/p/`) keeps what follows: `R/` + the rest.
 */
export function replacedPrefix(replacement: string, part: PathPart): string {
  const r = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
  return 'prefix' in part.uri ? `${r}/` : r === '' ? '/' : r;
}

function withRewrite(action: RuleAction, part: PathPart): IstioHTTPRoute {
  const route: IstioHTTPRoute = { ...action.base };
  if (action.prefixRedirect !== undefined && route.redirect !== undefined) {
    const path = replacedPrefix(action.prefixRedirect, part);
    route.redirect =
      'prefix' in part.uri ? { ...route.redirect, prefixRewrite: path } : { ...route.redirect, uri: path };
  }
  if (action.prefixRewrite !== undefined || action.rewriteAuthority !== undefined) {
    const rewrite = { ...(route.rewrite ?? {}) };
    if (action.rewriteAuthority !== undefined) rewrite.authority = action.rewriteAuthority;
    if (action.prefixRewrite !== undefined) {
      // `/p` -> R; `/p/x` (matched by prefix `/p/`) -> R/x, with R = `/` giving `/x`.
      const path = replacedPrefix(action.prefixRewrite, part);
      if (!('prefix' in part.uri)) {
        // The exact half: the whole path is the matched prefix (a regex rewrite, since the
        // Trellis proxy applies prefix_rewrite to prefix matches only).
        rewrite.uriRegexRewrite = { match: '^/.*$', rewrite: path };
      } else {
        rewrite.uri = path;
      }
    }
    route.rewrite = rewrite;
  }
  return route;
}

const prefixReplaced = (a: RuleAction) => a.prefixRewrite !== undefined || a.prefixRedirect !== undefined;

/** Every match of every rule as a ranked Istio route. */
export function convertRules(input: RouteInput, problems: RuleProblems): RankedRoute[] {
  const out: RankedRoute[] = [];
  input.rules.forEach((rule, ruleIndex) => {
    const action = ruleAction(rule, input, problems);
    const matches = rule.matches?.length ? rule.matches : [{}];
    matches.forEach((m, matchIndex) => {
      let parts: PathPart[];
      let rankPath: Pick<MatchRank, 'pathType' | 'pathLength'>;
      let method: string | undefined;
      if (input.flavor === 'grpc') {
        const g = grpcPath(m as GRPCRouteMatch);
        parts = [g.part];
        rankPath = g.rank;
      } else {
        const h = m as HTTPRouteMatch;
        const type = h.path?.type ?? 'PathPrefix';
        const value = h.path?.value ?? '/';
        parts = pathParts(type, value);
        // A prefix rewrite of `/` needs `/` itself apart: `/` -> R, `/x` -> R/x.
        if (prefixReplaced(action) && 'prefix' in parts[0]!.uri) {
          parts = [{ uri: { exact: '/' } }, parts[0]!];
        }
        rankPath = { pathType: type, pathLength: value.length };
        method = h.method;
      }
      const headers = nameValue(m.headers, true);
      const query = nameValue((m as HTTPRouteMatch).queryParams, false);
      const rank: MatchRank = {
        ...rankPath,
        method: method !== undefined,
        headers: m.headers?.length ?? 0,
        queryParams: (m as HTTPRouteMatch).queryParams?.length ?? 0,
        route: input.id,
        rule: ruleIndex,
        match: matchIndex,
        ...(input.created !== undefined ? { created: input.created } : {}),
      };
      const matchOf = (part: PathPart): HTTPMatchRequest => ({
        uri: part.uri,
        ...(method !== undefined ? { method: { exact: method } } : {}),
        ...(headers !== undefined ? { headers } : {}),
        ...(query !== undefined ? { queryParams: query } : {}),
      });
      const name = `${input.id}.${ruleIndex}.${matchIndex}`;
      if (prefixReplaced(action)) {
        // Each half rewrites its own matched prefix.
        for (const part of parts)
          out.push({ rank, route: { name, match: [matchOf(part)], ...withRewrite(action, part) } });
      } else {
        out.push({ rank, route: { name, match: parts.map(matchOf), ...withRewrite(action, parts[0]!) } });
      }
    });
  });
  return out;
}
