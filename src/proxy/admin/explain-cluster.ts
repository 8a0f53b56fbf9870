/**
 * `trellis explain`, the upstream half: a cluster as a request would find it now (its
 * endpoints with their health and outlier ejections, its circuit breakers), and the failure a
 * request would meet there (NC, UO, UH) with the change that fixes it. Reads the cluster
 * manager's live state and the pure priority/health rules (policy/locality.ts); changes nothing:
 * no pick (a round robin would move on), no breaker slot.
 */
import type { Clock } from '../../core/clock.js';
import { clusterEndpoints, type ProxyConfigSnapshot } from '../model/config.js';
import { PrioritySet } from '../policy/locality.js';
import type { ClusterManager, ClusterRuntime } from '../upstream/cluster-manager.js';
import { flagMeaning } from './explain-flags.js';
import type { ExplainCluster, ExplainEndpoint, ExplainFailure } from './explain-types.js';

export interface ClusterView {
  snapshot: ProxyConfigSnapshot;
  clusters: ClusterManager;
  clock: Clock;
}

/** Istio's cluster name `outbound|PORT|SUBSET|HOST`, when the cluster is named so. */
export function istioClusterName(name: string): { port: string; subset: string; host: string } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'outbound' && parts[0] !== 'inbound')) return undefined;
  return { port: parts[1] ?? '', subset: parts[2] ?? '', host: parts[3] ?? '' };
}

/** `HH:MM:SS` UTC of a wall clock time. */
export function clockTime(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(11, 19);
}

export interface ClusterExplanation {
  cluster: ExplainCluster;
  /** What a request sent here would meet; undefined when it would be sent upstream. */
  failure?: Omit<ExplainFailure, 'certainty'>;
}

export function explainCluster(view: ClusterView, name: string, percent: number): ClusterExplanation {
  const config = view.snapshot.clusters.get(name);
  const runtime = view.clusters.get(name);
  const cluster: ExplainCluster = { name, percent, found: false, endpoints: [], notes: [] };
  if (!config || !runtime) {
    const istio = istioClusterName(name);
    return {
      cluster,
      failure: {
        flag: 'NC',
        status: 503,
        meaning: flagMeaning('NC'),
        reason: `the route sends to cluster ${name}, which this proxy has not received`,
        fix:
          istio && istio.subset !== ''
            ? `define subset ${istio.subset} in the DestinationRule for ${istio.host}, or route to a subset it defines`
            : `check the route's destination host and port against the services this proxy knows ('trellis proxy-config clusters')`,
      },
    };
  }
  cluster.found = true;
  cluster.type = config.type;
  if (config.type === 'AGGREGATE') return aggregate(view, cluster, config.aggregateClusters ?? []);
  if (config.type === 'DYNAMIC_FORWARD_PROXY') {
    cluster.notes.push(
      'the host is resolved by DNS when the request arrives (dynamic forward proxy); a name that does not resolve fails with DF',
    );
    return { cluster };
  }
  if (config.type === 'ORIGINAL_DST') {
    cluster.notes.push('sent to the address the client dialled (ORIGINAL_DST)');
    return { cluster };
  }
  const b = runtime.breakers.forPriority();
  cluster.circuitBreakers = {
    requests: { active: b.active('requests'), max: b.limit('requests') },
    pendingRequests: { active: b.active('pending_requests'), max: b.limit('pending_requests') },
    retries: { active: b.active('retries'), max: b.limit('retries') },
  };
  cluster.connectFailures = runtime.counters.upstream_cx_connect_fail;
  cluster.endpoints = endpointsOf(view, runtime);
  if (cluster.connectFailures > 0)
    cluster.notes.push(
      `${cluster.connectFailures} upstream connection failure(s) so far: requests may fail with UF (explain --request-id ID shows what a failed request got)`,
    );
  if (b.active('requests') >= b.limit('requests')) {
    return {
      cluster,
      failure: {
        flag: 'UO',
        status: 503,
        meaning: flagMeaning('UO'),
        reason: `the requests circuit breaker of ${name} is full: ${b.active('requests')} of ${b.limit('requests')} requests in flight`,
        fix: `raise the DestinationRule's trafficPolicy.connectionPool.http.http2MaxRequests for ${istioClusterName(name)?.host ?? name}, or send fewer concurrent requests`,
      },
    };
  }
  const hosts = usableHosts(view, runtime);
  if (hosts.panic)
    cluster.notes.push(
      `in panic mode: too few healthy endpoints (under the panic threshold), so requests go to every endpoint, healthy or not`,
    );
  if (hosts.count > 0) return { cluster };
  return { cluster, failure: noHealthyUpstream(name, cluster.endpoints) };
}

function aggregate(
  view: ClusterView,
  cluster: ExplainCluster,
  members: readonly string[],
): ClusterExplanation {
  cluster.members = members.map((m) => explainCluster(view, m, 100).cluster);
  const usable = members.some((m) => {
    const r = explainCluster(view, m, 100);
    return r.cluster.found && r.failure === undefined;
  });
  if (usable) return { cluster };
  return {
    cluster,
    failure: {
      flag: 'UH',
      status: 503,
      meaning: flagMeaning('UH'),
      reason: `no member of aggregate cluster ${cluster.name} (${members.join(', ')}) has a healthy endpoint`,
      fix: 'see each member cluster below: bring up a healthy endpoint in one of them',
    },
  };
}

function endpointsOf(view: ClusterView, runtime: ClusterRuntime): ExplainEndpoint[] {
  const ejections = new Map((runtime.outlier?.snapshot() ?? []).map((s) => [s.address, s]));
  const now = view.clock.now();
  const wall = view.clock.wallNow();
  return runtime.hosts.map((h) => {
    const e: ExplainEndpoint = {
      address: h.address,
      health: h.health,
      activeRequests: h.activeRequests,
    };
    if (h.endpoint.identity.workload) e.workload = h.endpoint.identity.workload;
    const out = ejections.get(h.address);
    if (out?.ejected && out.ejectedUntil !== undefined) {
      e.ejectedUntil = new Date(wall + Math.max(0, out.ejectedUntil - now)).toISOString();
      e.reason = `ejected by outlier detection until ${clockTime(Date.parse(e.ejectedUntil))}`;
    } else if (!h.endpoint.healthy) {
      e.reason = `reported ${h.endpoint.healthStatus} by the control plane`;
    }
    return e;
  });
}

/**
 * Hosts a request could be sent to now, by the same priority, health and panic rules the load
 * balancer uses (a PrioritySet over the live levels; choosing from it changes nothing).
 */
function usableHosts(view: ClusterView, runtime: ClusterRuntime): { count: number; panic: boolean } {
  const endpoints = clusterEndpoints(view.snapshot, runtime.config);
  const set = new PrioritySet(runtime.levels, {
    ...runtime.config.priorityOptions,
    overprovisioningFactor: endpoints?.overprovisioningFactor ?? 140,
  });
  const seen = new Set<string>();
  let panic = false;
  // Every priority the load can fall on: `choose` by each hash bucket 0..99.
  for (let bucket = 0; bucket < 100; bucket++) {
    const choice = set.choose(() => 0, bucket);
    if (!choice) continue;
    if (choice.kind === 'panic') panic = true;
    for (const h of choice.hosts) seen.add(h.address);
  }
  return { count: seen.size, panic };
}

function noHealthyUpstream(
  name: string,
  endpoints: readonly ExplainEndpoint[],
): Omit<ExplainFailure, 'certainty'> {
  const istio = istioClusterName(name);
  const base = { flag: 'UH', status: 503, meaning: flagMeaning('UH') };
  if (endpoints.length === 0) {
    if (istio && istio.subset !== '')
      return {
        ...base,
        reason: `subset ${istio.subset} of ${istio.host} has no endpoints (cluster ${name})`,
        fix: `check the DestinationRule subset ${istio.subset} labels against the workloads' labels ('trellis get endpoints')`,
      };
    return {
      ...base,
      reason: `cluster ${name} has no endpoints`,
      fix: istio
        ? `start a workload of ${istio.host}, or check the ServiceEntry / WorkloadEntry that should give it endpoints on port ${istio.port}`
        : 'give the cluster endpoints (its EDS assignment or load_assignment is empty)',
    };
  }
  const ejected = endpoints.filter((e) => e.ejectedUntil !== undefined);
  const n = endpoints.length;
  if (ejected.length === n) {
    const until = ejected.map((e) => e.ejectedUntil!).sort();
    return {
      ...base,
      reason: `all ${n} endpoint(s) of ${name} are ejected by outlier detection until ${clockTime(Date.parse(until[0]!))}${until.length > 1 && until[0] !== until[until.length - 1] ? `-${clockTime(Date.parse(until[until.length - 1]!))}` : ''}`,
      fix: `the endpoints failed repeatedly (the DestinationRule's trafficPolicy.outlierDetection for ${istio?.host ?? name}): fix the upstream, or wait for the ejection to end`,
    };
  }
  const unhealthy = endpoints.filter((e) => e.ejectedUntil === undefined);
  return {
    ...base,
    reason:
      `none of the ${n} endpoint(s) of ${name} is healthy: ` +
      [
        ejected.length ? `${ejected.length} ejected by outlier detection` : '',
        unhealthy.length ? `${unhealthy.length} reported unhealthy by the control plane` : '',
      ]
        .filter(Boolean)
        .join(', '),
    fix: `check the workloads of ${istio?.host ?? name}: their health (readiness) and whether they are draining`,
  };
}
