/**
 * EDS: a ClusterLoadAssignment per cluster, endpoints grouped by locality. Every locality
 * carries load_balancing_weight (proxyless gRPC fails calls to a cluster without it).
 * With outlier detection set, localities get failover priorities by proximity to the proxy,
 * as Istio does; `distribute` rewrites locality weights for proxies in a `from` locality.
 * Endpoints labelled `security.istio.io/tlsMode: istio` (workloads with a sidecar) carry Istio's
 * `envoy.transport_socket_match` metadata, which auto mTLS clusters choose mTLS by.
 */
import type {
  ClusterLoadAssignment,
  LbEndpoint,
  Locality as EnvoyLocality,
  LocalityLbEndpoints,
} from '../../protocol/envoy-types.js';
import type { LocalityLoadBalancerSetting, Subset } from '../../api/networking/types.js';
import type { Endpoint, Service, ServicePort } from '../../registry/types.js';
import { canonicalLabels } from '../../protocol/trellis/canonical-labels.js';
import { socketAddress } from './envoy.js';
import {
  TLS_MODE_ISTIO,
  TLS_MODE_LABEL,
  TLS_MODE_SHORT,
  TRANSPORT_SOCKET_MATCH_KEY,
} from './security/mtls-auto.js';

/**
 * Istio's metadata on an endpoint (util.AppendLbEndpointMetadata): `envoy.transport_socket_match`
 * `{tlsMode: istio}` on endpoints that take mesh mTLS, and `istio.workload`
 * (`NAME;NAMESPACE;CANONICAL_SERVICE;CANONICAL_REVISION;CLUSTER`), which the proxy's metrics read
 * for the destination_* labels. `istio.app` (a Trellis addition) carries the `app` label when the
 * canonical service is not it.
 */
function endpointMetadata(ep: Endpoint): LbEndpoint['metadata'] | undefined {
  const filter: Record<string, { fields: Record<string, { stringValue: string }> }> = {};
  if (ep.labels[TLS_MODE_LABEL] === TLS_MODE_ISTIO)
    filter[TRANSPORT_SOCKET_MATCH_KEY] = { fields: { [TLS_MODE_SHORT]: { stringValue: TLS_MODE_ISTIO } } };
  if (ep.workloadName !== undefined) {
    const id = canonicalLabels(ep.labels, ep.workloadName);
    const fields: Record<string, { stringValue: string }> = {
      workload: {
        stringValue: [
          ep.workloadName,
          ep.namespace,
          id.canonicalService,
          id.canonicalRevision,
          id.cluster,
        ].join(';'),
      },
    };
    if (id.app !== undefined && id.app !== id.canonicalService) fields.app = { stringValue: id.app };
    filter.istio = { fields };
  }
  return Object.keys(filter).length === 0 ? undefined : { filter_metadata: filter };
}

export interface LoadAssignmentInput {
  clusterName: string;
  service: Service;
  port: ServicePort;
  endpoints: readonly Endpoint[];
  subset: Subset | undefined;
  /** Present only when the policy makes the proxy's locality matter. */
  locality: LocalityPolicy | undefined;
}

export interface LocalityPolicy {
  proxyLocality: string;
  setting: LocalityLoadBalancerSetting | undefined;
  /** Istio applies failover priorities only when outlier detection is configured. */
  failover: boolean;
}

interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export function parseLocality(text: string): Locality {
  const [region = '', zone = '', subZone = ''] = text.split('/');
  return { region, zone, subZone };
}

function localityProto(l: Locality): EnvoyLocality {
  const out: EnvoyLocality = {};
  if (l.region !== '') out.region = l.region;
  if (l.zone !== '') out.zone = l.zone;
  if (l.subZone !== '') out.sub_zone = l.subZone;
  return out;
}

/** Whether the proxy's locality policy can change this service's assignment. */
export function localityMatters(
  setting: LocalityLoadBalancerSetting | undefined,
  hasOutlierDetection: boolean,
): boolean {
  if (setting?.enabled === false) return false;
  return hasOutlierDetection || (setting?.distribute ?? []).length > 0;
}

export function buildLoadAssignment(input: LoadAssignmentInput): ClusterLoadAssignment {
  const { clusterName, port, subset } = input;
  const groups = new Map<string, LbEndpoint[]>();
  const groupWeights = new Map<string, number>();
  const seen = new Set<string>();
  for (const ep of input.endpoints) {
    if (subset?.labels !== undefined && !Object.entries(subset.labels).every(([k, v]) => ep.labels[k] === v))
      continue;
    const targetPort = ep.ports[port.name] ?? port.number;
    // Duplicate addresses are rejected by proxyless gRPC; keep the first.
    const addrKey = `${ep.address}:${targetPort}`;
    if (seen.has(addrKey)) continue;
    seen.add(addrKey);
    const weight = Math.max(1, Math.round(ep.weight));
    let list = groups.get(ep.locality);
    if (!list) groups.set(ep.locality, (list = []));
    const lb: LbEndpoint = {
      endpoint: { address: socketAddress(ep.address, targetPort) },
      health_status: ep.healthy ? 'HEALTHY' : 'UNHEALTHY',
      load_balancing_weight: { value: weight },
    };
    const metadata = endpointMetadata(ep);
    if (metadata !== undefined) lb.metadata = metadata;
    list.push(lb);
    groupWeights.set(ep.locality, (groupWeights.get(ep.locality) ?? 0) + weight);
  }
  let weights = groupWeights;
  if (input.locality !== undefined) weights = distributeWeights(input.locality, groupWeights) ?? groupWeights;
  const priorities =
    input.locality?.failover === true ? failoverPriorities(input.locality, [...weights.keys()]) : undefined;
  const localities = [...weights.keys()].sort();
  const endpoints = localities.map((name) => {
    const out: LocalityLbEndpoints = {
      locality: localityProto(parseLocality(name)),
      lb_endpoints: groups.get(name) ?? [],
      load_balancing_weight: { value: weights.get(name) ?? 1 },
    };
    const priority = priorities?.get(name) ?? 0;
    if (priority > 0) out.priority = priority;
    return out;
  });
  return { cluster_name: clusterName, endpoints };
}

/** `region/zone/subzone` patterns with `*` parts, as Istio's distribute/failover write them. */
export function localityPatternMatches(pattern: string, locality: string): boolean {
  const p = pattern.split('/');
  const l = locality.split('/');
  for (let i = 0; i < p.length; i++) {
    const part = p[i] as string;
    if (part === '*') return true;
    if (part !== (l[i] ?? '')) return false;
  }
  return true;
}

/**
 * Istio's `distribute`: for a proxy in a `from` locality, each `to` pattern gets its share of
 * traffic, split among the localities it matches by their endpoint weight; localities matched
 * by no `to` get nothing and are dropped. Weights are scaled to integers (percent x 100).
 */
function distributeWeights(
  policy: LocalityPolicy,
  groupWeights: ReadonlyMap<string, number>,
): Map<string, number> | undefined {
  const rule = (policy.setting?.distribute ?? []).find((d) =>
    localityPatternMatches(d.from, policy.proxyLocality),
  );
  if (rule === undefined) return undefined;
  const out = new Map<string, number>();
  for (const [pattern, share] of Object.entries(rule.to)) {
    const matched = [...groupWeights.keys()].filter((l) => !out.has(l) && localityPatternMatches(pattern, l));
    const total = matched.reduce((sum, l) => sum + (groupWeights.get(l) ?? 0), 0);
    for (const l of matched) {
      const w = Math.round((share * 100 * (groupWeights.get(l) ?? 0)) / Math.max(total, 1));
      if (w > 0) out.set(l, w);
    }
  }
  return out;
}

/**
 * Priority by proximity: same region/zone/subzone 0, same zone 1, same region 2, a region named
 * by a matching `failover` entry next, everything else last. Priorities are then renumbered to
 * be contiguous, since a gap is an error for xDS clients.
 */
function failoverPriorities(policy: LocalityPolicy, localities: readonly string[]): Map<string, number> {
  const me = parseLocality(policy.proxyLocality);
  const failoverTo = (policy.setting?.failover ?? []).filter((f) => f.from === me.region).map((f) => f.to);
  const raw = new Map<string, number>();
  for (const name of localities) {
    const l = parseLocality(name);
    let p: number;
    if (l.region === me.region && l.zone === me.zone && l.subZone === me.subZone) p = 0;
    else if (l.region === me.region && l.zone === me.zone) p = 1;
    else if (l.region === me.region) p = 2;
    else if (failoverTo.includes(l.region)) p = 3;
    else p = 4;
    raw.set(name, p);
  }
  const used = [...new Set(raw.values())].sort((a, b) => a - b);
  return new Map([...raw].map(([name, p]) => [name, used.indexOf(p)]));
}
