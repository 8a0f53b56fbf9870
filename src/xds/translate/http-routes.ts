/**
 * The ordered HTTP routes of one host: the routes of every VirtualService for it (oldest
 * first, Istio's merge order), with delegate VirtualServices spliced in where a root route
 * delegates. A delegate route's matches are ANDed with the delegating route's, as Istio does;
 * a pair that contradicts itself (different exact URIs, different ports, ...) is dropped.
 * Each match gets a stable id so per-proxy decisions (sourceLabels) can name it in a key.
 */
import type { HTTPMatchRequest, HTTPRoute, StringMatch } from '../../api/networking/types.js';
import { resourceFp, type VirtualServiceResource } from './push-context.js';

export interface IdentifiedMatch {
  id: string;
  match: HTTPMatchRequest;
}

export interface MergedRoute {
  /** The route whose action applies: the root's, or the delegate's. */
  route: HTTPRoute;
  /** Namespace that the route's destination hosts are relative to. */
  namespace: string;
  /** Undefined: the route matches every request. */
  matches: IdentifiedMatch[] | undefined;
  /** Annotations of the VirtualService the route is written in (Trellis extensions read them). */
  annotations?: Readonly<Record<string, string>>;
  /** Name of the root VirtualService (a delegate's routes take the root's, as Istio merges them). */
  virtualService?: string;
}

export function mergeRoutes(
  roots: readonly VirtualServiceResource[],
  delegates: ReadonlyMap<string, VirtualServiceResource>,
): MergedRoute[] {
  const out: MergedRoute[] = [];
  for (const vs of roots) {
    const vsId = resourceFp(vs);
    (vs.spec.http ?? []).forEach((route, i) => {
      const rootMatches = route.match?.map((m, j) => ({ id: `${vsId}/${i}/${j}`, match: m }));
      if (route.delegate === undefined) {
        out.push({
          route,
          namespace: vs.metadata.namespace,
          matches: rootMatches,
          virtualService: vs.metadata.name,
          ...annotationsOf(vs),
        });
        return;
      }
      const ns = route.delegate.namespace ?? vs.metadata.namespace;
      const delegate = delegates.get(`${ns}/${route.delegate.name}`);
      if (delegate === undefined) return; // Istio drops a route whose delegate is missing.
      const dId = resourceFp(delegate);
      (delegate.spec.http ?? []).forEach((dRoute, k) => {
        if (dRoute.delegate !== undefined) return; // Istio allows one level of delegation.
        const dMatches = dRoute.match?.map((m, j) => ({ id: `${dId}/${k}/${j}`, match: m }));
        const matches = andMatches(rootMatches, dMatches);
        if (matches !== undefined && matches.length === 0) return;
        out.push({
          route: dRoute,
          namespace: delegate.metadata.namespace,
          matches,
          virtualService: vs.metadata.name,
          ...annotationsOf(delegate),
        });
      });
    });
  }
  return out;
}

function annotationsOf(vs: VirtualServiceResource): Pick<MergedRoute, 'annotations'> {
  const a = vs.metadata.annotations;
  return a === undefined || Object.keys(a).length === 0 ? {} : { annotations: a };
}

function andMatches(
  roots: IdentifiedMatch[] | undefined,
  delegates: IdentifiedMatch[] | undefined,
): IdentifiedMatch[] | undefined {
  if (roots === undefined || roots.length === 0) return delegates;
  if (delegates === undefined || delegates.length === 0) return roots;
  const out: IdentifiedMatch[] = [];
  for (const r of roots) {
    for (const d of delegates) {
      const merged = andMatch(r.match, d.match);
      if (merged !== undefined) out.push({ id: `${r.id}&${d.id}`, match: merged });
    }
  }
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function pick<T>(a: T | undefined, b: T | undefined): { ok: boolean; value: T | undefined } {
  if (a === undefined) return { ok: true, value: b };
  if (b === undefined || same(a, b)) return { ok: true, value: a };
  return { ok: false, value: undefined };
}

function union<V>(
  a: Record<string, V> | undefined,
  b: Record<string, V> | undefined,
): { ok: boolean; value: Record<string, V> | undefined } {
  if (a === undefined) return { ok: true, value: b };
  if (b === undefined) return { ok: true, value: a };
  const out: Record<string, V> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (k in out && !same(out[k], v)) return { ok: false, value: undefined };
    out[k] = v;
  }
  return { ok: true, value: out };
}

/** A delegate URI must narrow the root's: the same, or inside the root's prefix. */
function andUri(
  root: StringMatch | undefined,
  d: StringMatch | undefined,
): { ok: boolean; value: StringMatch | undefined } {
  if (root === undefined) return { ok: true, value: d };
  if (d === undefined || same(root, d)) return { ok: true, value: root };
  if ('prefix' in root) {
    if ('prefix' in d && d.prefix.startsWith(root.prefix)) return { ok: true, value: d };
    if ('exact' in d && d.exact.startsWith(root.prefix)) return { ok: true, value: d };
  }
  return { ok: false, value: undefined };
}

function andMatch(r: HTTPMatchRequest, d: HTTPMatchRequest): HTTPMatchRequest | undefined {
  const uri = andUri(r.uri, d.uri);
  const scheme = pick(r.scheme, d.scheme);
  const method = pick(r.method, d.method);
  const authority = pick(r.authority, d.authority);
  const port = pick(r.port, d.port);
  const sourceNamespace = pick(r.sourceNamespace, d.sourceNamespace);
  const headers = union(r.headers, d.headers);
  const withoutHeaders = union(r.withoutHeaders, d.withoutHeaders);
  const queryParams = union(r.queryParams, d.queryParams);
  const sourceLabels = union(r.sourceLabels, d.sourceLabels);
  const parts = [
    uri,
    scheme,
    method,
    authority,
    port,
    sourceNamespace,
    headers,
    withoutHeaders,
    queryParams,
    sourceLabels,
  ];
  if (parts.some((p) => !p.ok)) return undefined;
  const out: HTTPMatchRequest = {};
  if (uri.value !== undefined) out.uri = uri.value;
  if (scheme.value !== undefined) out.scheme = scheme.value;
  if (method.value !== undefined) out.method = method.value;
  if (authority.value !== undefined) out.authority = authority.value;
  if (port.value !== undefined) out.port = port.value;
  if (sourceNamespace.value !== undefined) out.sourceNamespace = sourceNamespace.value;
  if (headers.value !== undefined) out.headers = headers.value;
  if (withoutHeaders.value !== undefined) out.withoutHeaders = withoutHeaders.value;
  if (queryParams.value !== undefined) out.queryParams = queryParams.value;
  if (sourceLabels.value !== undefined) out.sourceLabels = sourceLabels.value;
  const gateways = r.gateways ?? d.gateways;
  if (gateways !== undefined) out.gateways = gateways;
  if (r.ignoreUriCase === true || d.ignoreUriCase === true) out.ignoreUriCase = true;
  const name = d.name ?? r.name;
  if (name !== undefined) out.name = name;
  return out;
}

/** Matches that carry sourceLabels, so a proxy's labels can be evaluated against them. */
export function labelledMatches(
  routes: readonly MergedRoute[],
): { id: string; labels: Record<string, string> }[] {
  const out: { id: string; labels: Record<string, string> }[] = [];
  for (const r of routes) {
    for (const m of r.matches ?? []) {
      if (m.match.sourceLabels !== undefined) out.push({ id: m.id, labels: m.match.sourceLabels });
    }
  }
  return out;
}
