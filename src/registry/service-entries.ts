import { fqdn, portProtocol } from '../api/hosts.js';
import type { Resource } from '../api/resource.js';
import type { ServiceEntrySpec, WorkloadEntrySpec } from '../api/networking/types.js';
import type { SourceContribution } from './service-index.js';
import type { Endpoint, Service, ServicePort } from './types.js';

/**
 * ServiceEntry and WorkloadEntry resources as services and endpoints, with Istio's rules:
 * each host of a ServiceEntry is a service; its endpoints are the inline `endpoints` plus the
 * WorkloadEntries in the same namespace whose labels match `workloadSelector`. For DNS
 * resolution without endpoints, the host itself is the one endpoint (resolved by the data plane).
 */
export function contributionFromConfig(
  serviceEntries: readonly Resource[],
  workloadEntries: readonly Resource[],
  domainSuffix = 'cluster.local',
): SourceContribution {
  const services: Service[] = [];
  const endpoints: Endpoint[] = [];
  for (const se of serviceEntries) {
    const spec = se.spec as ServiceEntrySpec;
    const ns = se.metadata.namespace;
    const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
      name: p.name ?? `${(p.protocol ?? 'tcp').toLowerCase()}-${p.number}`,
      number: p.number,
      protocol: portProtocol(p.name, p.protocol),
      ...(p.targetPort ? { targetPort: p.targetPort } : {}),
    }));
    const resolution = spec.resolution ?? 'NONE';
    const selected = spec.workloadSelector?.labels
      ? workloadEntries.filter(
          (we) =>
            we.metadata.namespace === ns &&
            labelsMatch(spec.workloadSelector?.labels ?? {}, (we.spec as WorkloadEntrySpec).labels ?? {}),
        )
      : [];
    for (const host of spec.hosts) {
      const hostname = fqdn(host, ns, domainSuffix);
      services.push({
        hostname,
        namespace: ns,
        ports,
        resolution,
        location: spec.location ?? 'MESH_EXTERNAL',
        addresses: spec.addresses ?? [],
        labels: se.metadata.labels ?? {},
        ...(spec.exportTo ? { exportTo: spec.exportTo } : {}),
        source: `ServiceEntry/${ns}/${se.metadata.name}`,
      });
      const entries: { spec: WorkloadEntrySpec; name?: string }[] = [
        ...(spec.endpoints ?? []).map((e) => ({ spec: e })),
        ...selected.map((we) => ({ spec: we.spec as WorkloadEntrySpec, name: we.metadata.name })),
      ];
      if (
        entries.length === 0 &&
        (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') &&
        !host.startsWith('*')
      ) {
        entries.push({ spec: { address: host } });
      }
      for (const { spec: e, name } of entries) {
        if (!e.address) continue;
        const portMap: Record<string, number> = {};
        for (const p of ports) portMap[p.name] = e.ports?.[p.name] ?? p.targetPort ?? p.number;
        endpoints.push({
          hostname,
          namespace: ns,
          address: e.address,
          ports: portMap,
          labels: e.labels ?? {},
          locality: e.locality ?? '',
          weight: e.weight && e.weight > 0 ? e.weight : 1,
          healthy: true,
          ...(name ? { workloadName: name } : e.labels?.app ? { workloadName: e.labels.app } : {}),
          ...(e.serviceAccount ? { serviceAccount: e.serviceAccount } : {}),
          ...(e.network ? { network: e.network } : {}),
        });
      }
    }
  }
  return { services, endpoints };
}

export function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
