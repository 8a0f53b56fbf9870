/**
 * The resources `up` adds to the user's configuration, derived from the manifest and the ports
 * it chose (a pure function, so it is table-tested):
 *
 * - a ServiceEntry per service: its hostname and ports (`reviews:9080`), so callers' sidecars
 *   have the outbound listener and routes for it (with --capture netns also the virtual
 *   address its name resolves to, so TCP ports get a `VIP_PORT` listener, as in Istio). Its endpoints are the registrations `up`
 *   makes when an instance is ready (the selector matches no WorkloadEntry on purpose);
 * - a Sidecar per workload, selected by `trellis.io/workload: NAME`: one ingress listener per
 *   port, bound on 127.0.0.1:INBOUND (the port registered for the instance) and forwarding to
 *   the app's port. The sidecar binds that listener itself, so inbound traffic is told apart by
 *   the port it arrives on, not by IP: every workload shares 127.0.0.1. an egress host of `*` in every namespace keeps
 *   every service visible, as without a Sidecar;
 * - the Gateway of the manifest, on the port the gateway really binds, selecting its labels.
 */
import type { Resource } from '../../api/resource.js';
import type { MeshProtocol } from '../../api/trellis/mesh.js';
import { WORKLOAD_LABEL, type MeshPlan, type WorkloadPlan } from './manifest.js';

export const DERIVED_PREFIX = 'up-';
export const SERVICE_LABEL = 'trellis.io/service';

/** The ports chosen for one workload. */
export interface WorkloadPorts {
  /** Where the app listens, by port name. */
  app: Record<string, number>;
  /** Where its sidecar accepts inbound traffic for each port (what callers are sent to). */
  inbound: Record<string, number>;
}

const ISTIO_PROTOCOL: Record<MeshProtocol, string> = {
  http: 'HTTP',
  http2: 'HTTP2',
  grpc: 'GRPC',
  tcp: 'TCP',
};

export function serviceHost(
  w: Pick<WorkloadPlan, 'service' | 'namespace'>,
  domainSuffix = 'cluster.local',
): string {
  return `${w.service}.${w.namespace}.svc.${domainSuffix}`;
}

export function derivedResources(
  plan: MeshPlan,
  ports: ReadonlyMap<string, WorkloadPorts>,
  gatewayPort: number | undefined,
  /** --capture netns: the virtual address each service name resolves to in the namespaces. */
  vips?: ReadonlyMap<string, string>,
): Resource[] {
  const out: Resource[] = [];
  const services = new Map<string, WorkloadPlan>();
  for (const w of plan.workloads) {
    const key = `${w.namespace}/${w.service}`;
    if (!services.has(key)) services.set(key, w);
  }
  for (const w of services.values()) {
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: `${DERIVED_PREFIX}${w.service}`, namespace: w.namespace },
      spec: {
        hosts: [serviceHost(w)],
        ...(vips?.has(w.service) ? { addresses: [vips.get(w.service) as string] } : {}),
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: w.ports.map((p) => ({ number: p.port, name: p.name, protocol: ISTIO_PROTOCOL[p.protocol] })),
        workloadSelector: { labels: { [SERVICE_LABEL]: w.service } },
      },
    });
  }
  for (const w of plan.workloads) {
    const chosen = ports.get(w.name);
    if (chosen === undefined) continue;
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Sidecar',
      metadata: { name: `${DERIVED_PREFIX}${w.name}`, namespace: w.namespace },
      spec: {
        workloadSelector: { labels: { [WORKLOAD_LABEL]: w.name } },
        ingress: w.ports.map((p) => ({
          port: {
            number: chosen.inbound[p.name],
            name: `${p.name}-${chosen.inbound[p.name]}`,
            protocol: ISTIO_PROTOCOL[p.protocol],
          },
          bind: '127.0.0.1',
          defaultEndpoint: `127.0.0.1:${chosen.app[p.name]}`,
        })),
        egress: [{ hosts: ['*/*'] }],
      },
    });
  }
  if (plan.gateway && gatewayPort !== undefined) {
    const g = plan.gateway;
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: g.name, namespace: g.namespace },
      spec: {
        selector: g.labels,
        servers: [{ port: { number: gatewayPort, name: 'http', protocol: 'HTTP' }, hosts: g.hosts }],
      },
    });
  }
  return out;
}
