/**
 * What the rollout needs to know of convergence (controlplane/convergence.ts computes it; a
 * controller may not import the control plane, so the shape is restated here and matched
 * structurally).
 */
export interface ProxyLag {
  proxy: string;
  /** `workload.namespace`, as `trellis proxy-status` prints it. */
  name: string;
  reason: 'pending' | 'nack' | 'disconnected';
  detail: string;
}

export interface ConvergenceReport {
  inEffect: boolean;
  proxies: number;
  lagging: readonly ProxyLag[];
}
