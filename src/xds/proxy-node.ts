/**
 * What the control plane knows about a connected data plane, read from the xDS `node` it sends.
 *
 * Node id follows Istio's convention `TYPE~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local`, where
 * TYPE is `sidecar` or `router` (gateway). Metadata keys follow Istio's too: NAMESPACE, LABELS
 * (a struct), WORKLOAD_NAME, INSTANCE_IPS (comma-separated), and GENERATOR=`grpc` for proxyless
 * gRPC clients. Anything missing falls back to what the id says, then to defaults.
 */
export type ProxyType = 'sidecar' | 'router' | 'grpc';

export interface ProxyNode {
  id: string;
  type: ProxyType;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  workloadName: string;
  ipAddresses: readonly string[];
  /** `region/zone/subzone`. */
  locality: string;
  /** Value of Envoy's `node.cluster` (Istio: `<service>.<namespace>`). */
  cluster: string;
  /** Whatever else the node sent in metadata, as plain JSON values. */
  metadata: Readonly<Record<string, unknown>>;
}
