/**
 * go-control-plane's consistency check, before anything of a push reaches a proxy: every route
 * configuration a listener takes over RDS (`HttpConnectionManager.rds.route_config_name`) and
 * every EDS service name a cluster takes its endpoints from (`eds_cluster_config.service_name`,
 * else the cluster's name) must be among the resources that proxy is given. A dangling name is a
 * translation bug; the proxy would wait for a resource that never comes (Envoy's listener stays
 * warming, gRPC fails the calls), so the server keeps the proxy on its last consistent push.
 *
 * The check is against the proxy's whole view of a push, not against one response: a delta or
 * incremental push sends only what changed (a listener may name a route sent long ago), and a
 * client subscribes to routes and endpoints only after it has the listeners and clusters naming
 * them. So references are taken from the listeners and clusters the proxy is subscribed to, and
 * resolved against every route configuration and endpoint assignment generated for the proxy.
 */
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { Connection } from './connection.js';
import type { PushContextLike, Translator } from './server-context.js';

type Resources = ReadonlyMap<string, object>;

export interface Unresolved {
  /** Route configuration names listeners take over RDS that are not generated. */
  readonly routes: readonly string[];
  /** EDS service names of clusters that are not generated. */
  readonly endpoints: readonly string[];
}

interface HcmLike {
  rds?: { route_config_name?: string };
}

function hcmOf(typedConfig: unknown): HcmLike | undefined {
  if (typeof typedConfig !== 'object' || typedConfig === null) return undefined;
  const any = typedConfig as Partial<AnyMessage> & HcmLike;
  if (any.type_url !== undefined) return any.type_url === TYPE.hcm ? unpackAny<HcmLike>(any) : undefined;
  return any; // an unpacked config, as a hand-written resource may carry
}

const routeNamesMemo = new WeakMap<object, readonly string[]>();

/** The route configurations a listener takes over RDS (filter chains and proxyless api_listener). */
export function routeNamesOf(listener: object): readonly string[] {
  const memo = routeNamesMemo.get(listener);
  if (memo) return memo;
  const l = listener as {
    filter_chains?: { filters?: { typed_config?: unknown }[] }[];
    default_filter_chain?: { filters?: { typed_config?: unknown }[] };
    api_listener?: { api_listener?: unknown };
  };
  const configs: unknown[] = [l.api_listener?.api_listener];
  for (const chain of [
    ...(l.filter_chains ?? []),
    ...(l.default_filter_chain ? [l.default_filter_chain] : []),
  ])
    for (const f of chain.filters ?? []) configs.push(f.typed_config);
  const names = new Set<string>();
  for (const c of configs) {
    const name = hcmOf(c)?.rds?.route_config_name;
    if (name) names.add(name);
  }
  const out = Object.freeze([...names]);
  routeNamesMemo.set(listener, out);
  return out;
}

/** The name a cluster's endpoints come under over EDS, or undefined when they are not from EDS. */
export function edsNameOf(cluster: object): string | undefined {
  const c = cluster as { name?: string; type?: string; eds_cluster_config?: { service_name?: string } };
  if (c.eds_cluster_config === undefined && c.type !== 'EDS') return undefined;
  return c.eds_cluster_config?.service_name || c.name;
}

/** Names referenced by `from` (through `refs`) that `to` lacks, memoized per pair of sets. */
const unresolvedMemo = new WeakMap<Resources, WeakMap<Resources, readonly string[]>>();

function missing(from: Resources, to: Resources, refs: (r: object) => readonly string[]): readonly string[] {
  let byTo = unresolvedMemo.get(from);
  const memo = byTo?.get(to);
  if (memo) return memo;
  const out = new Set<string>();
  for (const r of from.values()) for (const name of refs(r)) if (!to.has(name)) out.add(name);
  const result = Object.freeze([...out].sort());
  if (!byTo) unresolvedMemo.set(from, (byTo = new WeakMap()));
  byTo.set(to, result);
  return result;
}

const edsNames = (cluster: object): readonly string[] => {
  const n = edsNameOf(cluster);
  return n === undefined ? [] : [n];
};

/** Pure: what `listeners` and `clusters` name that `routes` and `endpoints` do not hold. */
export function unresolvedReferences(view: {
  listeners?: Resources;
  routes?: Resources;
  clusters?: Resources;
  endpoints?: Resources;
}): Unresolved {
  const none: Resources = new Map();
  return {
    routes: view.listeners ? missing(view.listeners, view.routes ?? none, routeNamesOf) : [],
    endpoints: view.clusters ? missing(view.clusters, view.endpoints ?? none, edsNames) : [],
  };
}

/**
 * The references of `push` for the proxy on `conn` that do not resolve (see the file comment),
 * or undefined when every one does. Generation errors propagate (the push fails as it would).
 */
export function checkConsistency<P extends PushContextLike>(
  translator: Translator<P>,
  push: P,
  conn: Connection,
): Unresolved | undefined {
  const gen = (typeUrl: ResourceTypeUrl, asSubscribed: boolean) => {
    const s = conn.types.get(typeUrl);
    const names = asSubscribed && s && !s.wildcard ? [...s.names] : undefined;
    return translator.generate(push, conn.proxy, typeUrl, names);
  };
  const subscribed = (typeUrl: string) => conn.types.get(typeUrl)?.subscribed === true;
  const found = unresolvedReferences({
    ...(subscribed(TYPE.listener)
      ? { listeners: gen(TYPE.listener, true), routes: gen(TYPE.route, false) }
      : {}),
    ...(subscribed(TYPE.cluster)
      ? { clusters: gen(TYPE.cluster, true), endpoints: gen(TYPE.endpoint, false) }
      : {}),
  });
  return found.routes.length === 0 && found.endpoints.length === 0 ? undefined : found;
}
