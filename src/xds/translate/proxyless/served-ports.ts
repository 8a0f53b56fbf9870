/**
 * The ports a proxyless gRPC server serves: those of the service instances registered at the
 * proxy's addresses (node metadata INSTANCE_IPS, else the IP in its node id), by the port the
 * workload listens on, which is the port in the listener name the server asks for. Istio's
 * grpcgen does the same with node.ServiceInstances keyed by endpoint port; a Sidecar resource's
 * ingress does not apply (there is no sidecar).
 */
import type { ProxyNode } from '../../proxy-node.js';
import type { PushContext } from '../push-context.js';

export interface ServedPort {
  /** The port the workload listens on (the endpoint's port). */
  port: number;
  /** The service it is an instance of, and that service's port number. */
  hostname: string;
  servicePort: number;
}

/** One entry per listening port, the first service by hostname when several share it. */
export function servedPorts(push: PushContext, proxy: ProxyNode): ServedPort[] {
  const out = new Map<number, ServedPort>();
  const instances = [...push.index.instancesAt(proxy.ipAddresses)].sort((a, b) =>
    a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0,
  );
  for (const ep of instances) {
    const svc = push.index.service(ep.hostname);
    if (svc === undefined) continue;
    for (const p of svc.ports) {
      const port = ep.ports[p.name] ?? p.number;
      if (!out.has(port)) out.set(port, { port, hostname: svc.hostname, servicePort: p.number });
    }
  }
  return [...out.values()].sort((a, b) => a.port - b.port);
}
