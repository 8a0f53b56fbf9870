/**
 * Istio's canonical service and revision of a workload, from its labels (Istio's
 * pkg/kube/labels: `service.istio.io/canonical-name`, then `app.kubernetes.io/name`, then `app`,
 * then the workload name; `service.istio.io/canonical-revision`, then `app.kubernetes.io/version`,
 * then `version`, then `latest`), its app and version labels, and its cluster
 * (`topology.istio.io/cluster`, Istio's default `Kubernetes`). One rule for the control plane that
 * writes endpoint metadata and the proxy that reports its own labels in metrics.
 */
export interface CanonicalLabels {
  canonicalService: string;
  canonicalRevision: string;
  app: string | undefined;
  version: string | undefined;
  cluster: string;
}

export const DEFAULT_CLUSTER_ID = 'Kubernetes';

export function canonicalLabels(
  labels: Readonly<Record<string, string>>,
  workloadName: string,
): CanonicalLabels {
  return {
    canonicalService:
      labels['service.istio.io/canonical-name'] ??
      labels['app.kubernetes.io/name'] ??
      labels.app ??
      workloadName,
    canonicalRevision:
      labels['service.istio.io/canonical-revision'] ??
      labels['app.kubernetes.io/version'] ??
      labels.version ??
      'latest',
    app: labels.app ?? labels['app.kubernetes.io/name'],
    version: labels.version ?? labels['app.kubernetes.io/version'],
    cluster: labels['topology.istio.io/cluster'] ?? DEFAULT_CLUSTER_ID,
  };
}
