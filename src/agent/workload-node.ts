/**
 * Who the workload is, as the control plane reads it from an xDS `node` (xds/node.ts): Istio's
 * id `TYPE~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local` and metadata keys NAMESPACE, LABELS,
 * WORKLOAD_NAME, INSTANCE_IPS. The agent writes it into the Envoy and gRPC bootstraps.
 */
export interface WorkloadNode {
  namespace: string;
  workloadName: string;
  labels: Readonly<Record<string, string>>;
  instanceIps: readonly string[];
  /** `region/zone/subzone`, any part may be empty. */
  locality: string;
}

/** `sidecar~IP~workload.ns~ns.svc.cluster.local` (Envoy) or `grpc~...` (proxyless gRPC). */
export function nodeIdFor(type: 'sidecar' | 'grpc', w: WorkloadNode): string {
  return `${type}~${w.instanceIps[0] ?? '127.0.0.1'}~${w.workloadName}.${w.namespace}~${w.namespace}.svc.cluster.local`;
}

/** Metadata as plain JSON (a Struct in the bootstrap). */
export function nodeMetadata(w: WorkloadNode, extra: Record<string, string> = {}): Record<string, unknown> {
  return {
    NAMESPACE: w.namespace,
    WORKLOAD_NAME: w.workloadName,
    LABELS: { ...w.labels },
    INSTANCE_IPS: w.instanceIps.join(','),
    ...extra,
  };
}

export function localityOf(w: WorkloadNode): { region?: string; zone?: string; sub_zone?: string } {
  const [region, zone, subZone] = w.locality.split('/');
  return {
    ...(region ? { region } : {}),
    ...(zone ? { zone } : {}),
    ...(subZone ? { sub_zone: subZone } : {}),
  };
}
