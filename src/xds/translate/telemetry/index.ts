/**
 * Telemetry on generated xDS: wraps the LDS generator so that every HTTP connection manager of
 * a proxy (sidecar outbound and inbound, gateway; never proxyless gRPC) carries the proxy's
 * effective tracing, access logs and (for proxies listing `stats` in TRELLIS_FILTERS) the
 * `istio.stats` filter, and TCP proxies carry the access logs; and wraps CDS so that the
 * collector's cluster exists even when a Sidecar hides the collector's service (as the rate
 * limit service's does). The plan of what is added is computed once per proxy and push; its
 * digest is named in both generators' keys, so affectedTypes() sees a Telemetry edit.
 *
 * Side per listener as Istio's (telemetry.go workloadMode, tracing.go): sidecar inbound is
 * SERVER; sidecar outbound and gateways are CLIENT, gateways reporting metrics as a client.
 */
import type { Cluster } from '../../../protocol/envoy-types.js';
import { packAny, TYPE, unpackAny, type AnyLike, type ResourceTypeUrl } from '../../../protocol/protos.js';
import { STATS_CAPABILITY } from '../../../protocol/trellis/istio-stats.js';
import { TRELLIS_FILTERS_METADATA } from '../../../protocol/trellis/lanes-filter.js';
import type { ProxyNode } from '../../proxy-node.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, isHttp2Port } from '../cluster.js';
import { durationMs } from '../envoy.js';
import { buildLoadAssignment } from '../endpoints.js';
import { memoized, type Resources, type TypeGenerator } from '../generators.js';
import { digest } from '../memo.js';
import type { PushContext } from '../push-context.js';
import {
  buildAccessLogs,
  buildStatsFields,
  buildTracing,
  lookupCollector,
  statsHttpFilter,
  type Collector,
} from './build.js';
import { effectiveLogging, effectiveMetrics, effectiveTracing, type Side } from './effective.js';
import { applicableTelemetries } from './select.js';

interface SidePlan {
  tracing?: object;
  accessLogs: object[];
  stats?: object;
}

export interface TelemetryPlan {
  client: SidePlan;
  server: SidePlan;
  /** Collector clusters CDS must hold. */
  collectors: readonly Collector[];
  /** Names the collectors and their endpoints: CDS's part of the key ('' for none). */
  collectorsKey: string;
  /** '' when nothing is added (the generators' own output and keys are used unchanged). */
  key: string;
}

const NONE: TelemetryPlan = Object.freeze({
  client: { accessLogs: [] },
  server: { accessLogs: [] },
  collectors: [],
  collectorsKey: '',
  key: '',
});

export function runsStatsFilter(proxy: ProxyNode): boolean {
  const listed = proxy.metadata[TRELLIS_FILTERS_METADATA];
  return typeof listed === 'string' && listed.split(',').some((f) => f.trim() === STATS_CAPABILITY);
}

/** What telemetry adds to this proxy's config in this push. */
export function telemetryPlan(push: PushContext, proxy: ProxyNode): TelemetryPlan {
  if (proxy.type === 'grpc') return NONE;
  const applicable = applicableTelemetries(push, proxy);
  const stats = runsStatsFilter(proxy);
  const facets = `telemetry-plan|${proxy.type}|${proxy.namespace}|${JSON.stringify(proxy.labels)}|${proxy.cluster}|${stats ? 's' : ''}`;
  return push.index.perPush(facets, () => {
    const specs = applicable.telemetries.map((t) => t.spec);
    const mesh = push.telemetry;
    const collectors = new Map<string, Collector>();
    const side = (s: Side): SidePlan => {
      const out: SidePlan = { accessLogs: buildAccessLogs(effectiveLogging(specs, mesh, s), mesh) };
      const tracing = effectiveTracing(specs, mesh, s);
      const p = tracing?.provider;
      const collector =
        p !== undefined && p.kind === 'opentelemetry'
          ? lookupCollector(p, (h) => push.index.service(h))
          : undefined;
      const t =
        tracing === undefined
          ? undefined
          : buildTracing(
              tracing,
              mesh,
              {
                cluster: proxy.cluster,
                namespace: proxy.namespace,
                labels: proxy.labels,
                gateway: proxy.type === 'router',
              },
              collector,
            );
      if (t !== undefined && collector !== undefined) {
        out.tracing = t;
        collectors.set(collector.cluster, collector);
      }
      if (stats) {
        const reporter = s === 'SERVER' ? 'SERVER_SIDE' : 'CLIENT_SIDE';
        const fields = buildStatsFields(effectiveMetrics(specs, mesh, s), reporter);
        if (fields !== undefined) out.stats = statsHttpFilter(fields);
      }
      return out;
    };
    const client = side('CLIENT');
    const server = proxy.type === 'router' ? { accessLogs: [] } : side('SERVER');
    const list = [...collectors.values()];
    const empty = (p: SidePlan): boolean =>
      p.tracing === undefined && p.accessLogs.length === 0 && p.stats === undefined;
    if (empty(client) && empty(server)) return NONE;
    const endpoints = list.map((c) => `${c.cluster}@${push.index.endpointsFingerprint(c.hostname)}`);
    const key = digest(JSON.stringify([client, server, endpoints]));
    return {
      client,
      server,
      collectors: list,
      collectorsKey: list.length === 0 ? '' : digest(endpoints.join(',')),
      key,
    };
  });
}

type Obj = Record<string, unknown>;

function patchHcm(any: AnyLike, plan: SidePlan): AnyLike {
  const hcm = unpackAny<Obj>(any);
  if (plan.tracing !== undefined) hcm.tracing = plan.tracing;
  if (plan.accessLogs.length > 0)
    hcm.access_log = [...((hcm.access_log as object[] | undefined) ?? []), ...plan.accessLogs];
  if (plan.stats !== undefined) {
    const filters = [...((hcm.http_filters as Obj[] | undefined) ?? [])];
    // Before the router (the last filter), as Istio places its stats filter.
    const at = Math.max(0, filters.length - 1);
    filters.splice(at, 0, plan.stats as Obj);
    hcm.http_filters = filters;
  }
  return packAny(TYPE.hcm, hcm);
}

function patchTcp(any: AnyLike, plan: SidePlan): AnyLike {
  if (plan.accessLogs.length === 0) return any;
  const tcp = unpackAny<Obj>(any);
  tcp.access_log = [...((tcp.access_log as object[] | undefined) ?? []), ...plan.accessLogs];
  return packAny(TYPE.tcpProxy, tcp);
}

function patchChain(chain: Obj, plan: SidePlan): Obj {
  const filters = (chain.filters as Obj[] | undefined) ?? [];
  return {
    ...chain,
    filters: filters.map((f) => {
      const any = f.typed_config as AnyLike | undefined;
      if (any?.type_url === TYPE.hcm) return { ...f, typed_config: patchHcm(any, plan) };
      if (any?.type_url === TYPE.tcpProxy) return { ...f, typed_config: patchTcp(any, plan) };
      return f;
    }),
  };
}

export function patchListener(listener: Obj, plan: TelemetryPlan, gateway: boolean): Obj {
  const side = !gateway && listener.traffic_direction === 'INBOUND' ? plan.server : plan.client;
  const out: Obj = { ...listener };
  if (Array.isArray(listener.filter_chains))
    out.filter_chains = (listener.filter_chains as Obj[]).map((c) => patchChain(c, side));
  if (listener.default_filter_chain !== undefined)
    out.default_filter_chain = patchChain(listener.default_filter_chain as Obj, side);
  return out;
}

/** A cluster for a collector the proxy's scope hides: its endpoints inline, as Istio's lookups expect. */
function collectorCluster(push: PushContext, c: Collector): Cluster {
  const port = c.service.ports.find((p) => p.number === c.port) ?? {
    name: `port-${c.port}`,
    number: c.port,
    protocol: 'GRPC',
  };
  const dns = c.service.resolution === 'DNS' || c.service.resolution === 'DNS_ROUND_ROBIN';
  const cluster: Cluster = {
    name: c.cluster,
    type: dns ? 'STRICT_DNS' : 'STATIC',
    connect_timeout: durationMs(DEFAULT_CONNECT_TIMEOUT_MS),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: buildLoadAssignment({
      clusterName: c.cluster,
      service: c.service,
      port,
      endpoints: push.index.endpoints(c.hostname),
      subset: undefined,
      locality: undefined,
    }),
  };
  if (isHttp2Port(port))
    cluster.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(TYPE.http2Options, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    };
  return cluster;
}

/** `gen` (CDS or LDS) with the proxy's telemetry added; other types unchanged. */
export function withTelemetry<T extends object>(
  typeUrl: ResourceTypeUrl,
  gen: TypeGenerator<T>,
): TypeGenerator<T> {
  if (typeUrl !== TYPE.listener && typeUrl !== TYPE.cluster) return gen;
  const partOf = (plan: TelemetryPlan): string => (typeUrl === TYPE.cluster ? plan.collectorsKey : plan.key);
  return {
    key(push, proxy, view) {
      const base = gen.key(push, proxy, view);
      const part = partOf(telemetryPlan(push, proxy));
      return part === '' ? base : `${base}|tel:${part}`;
    },
    generate(push, proxy, names) {
      const plan = telemetryPlan(push, proxy);
      const part = partOf(plan);
      if (part === '') return gen.generate(push, proxy, names);
      const memoKey = `tel|${typeUrl}|${gen.key(push, proxy)}|${part}|${proxy.type}`;
      return memoized(push, memoKey, names, () => {
        const generated = gen.generate(push, proxy, undefined) as Resources<object>;
        const out = new Map<string, T>();
        if (typeUrl === TYPE.cluster) {
          for (const [n, c] of generated) out.set(n, c as T);
          for (const c of plan.collectors)
            if (!out.has(c.cluster)) out.set(c.cluster, collectorCluster(push, c) as T);
          return out;
        }
        for (const [n, l] of generated)
          out.set(n, patchListener(l as Obj, plan, proxy.type === 'router') as T);
        return out;
      });
    },
  };
}
