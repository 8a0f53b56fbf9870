/**
 * Router: one service, its branches (production and sandboxes) and per branch its versions with
 * weights. The Router controller (controllers/router/) derives the service's ServiceEntry,
 * DestinationRule and VirtualService from it and applies every change in a safe order.
 *
 * ```yaml
 * apiVersion: trellis.io/v1alpha1          # router.service-mesh.zhihu.com/v1 is accepted as written
 * kind: Router
 * metadata: { name: sm-verify-web, namespace: sm-verify }
 * spec:
 *   port: 9090
 *   protocol: http                         # http | http2 | grpc | tcp (default http)
 *   host: web.example.internal             # optional; default NAME.NAMESPACE.svc.cluster.local
 *   versionLabel: version                  # optional: the workload label naming a version
 *   branchLabel: branch                    # optional: the workload label naming a branch
 *   productionBranch: master               # optional: the branch that serves production traffic
 *   sticky: { header: x-user-id }          # optional: keep each user on one version (or cookie)
 *   fallback: true                         # optional (default true): a subset without healthy
 *                                          # endpoints falls back to the stable version
 *   rolloutTimeout: 30s                    # optional: how long a step may wait on a proxy
 *   subsets:
 *   - branch: master                       # production
 *     versions: { v1.0.1: 90, v1.0.2: 10 } # integer weights summing to 100
 *   - branch: box-0999                     # a sandbox: every workload of the branch
 * ```
 *
 * Workloads are selected by labels: `{branchLabel: BRANCH, versionLabel: VERSION}`, the production
 * branch's too: a production workload must carry `branchLabel: PRODUCTION_BRANCH` (e.g.
 * `branch: master`). A workload without the branch label is in no subset and gets no traffic
 * through the Router (selecting production by version alone would also take sandbox workloads of
 * that version); the Router's status names such endpoints in `warnings`. (Lane routing without a
 * Router, docs/LANES.md, still treats an absent branch label as production.)
 *
 * A Router's ServiceEntry, DestinationRule and VirtualService take its namespace and name; a
 * user resource of one of those kinds with that namespace and name is a conflict: the Router
 * writes nothing (phase Stalled, its message naming the resource to rename or delete) until it
 * is gone.
 */
export const ROUTER_KIND = 'Router';
/** The group Zhihu's original resource used; accepted as written. */
export const ROUTER_LEGACY_GROUP = 'router.service-mesh.zhihu.com';
export const ROUTER_LEGACY_VERSIONS = ['v1'] as const;

export type RouterProtocol = 'http' | 'http2' | 'grpc' | 'tcp';
export const ROUTER_PROTOCOLS: readonly RouterProtocol[] = ['http', 'http2', 'grpc', 'tcp'];

export interface RouterSubset {
  branch: string;
  /** Version -> weight (integers summing to 100); absent or empty: every workload of the branch. */
  versions?: Record<string, number>;
}

export interface RouterSpec {
  port: number;
  protocol?: RouterProtocol;
  host?: string;
  versionLabel?: string;
  branchLabel?: string;
  productionBranch?: string;
  sticky?: { header?: string; cookie?: string };
  fallback?: boolean;
  rolloutTimeout?: string;
  subsets: RouterSubset[];
}

export const DEFAULT_VERSION_LABEL = 'version';
export const DEFAULT_BRANCH_LABEL = 'branch';
export const DEFAULT_PRODUCTION_BRANCH = 'master';
export const DEFAULT_ROLLOUT_TIMEOUT_MS = 30_000;

/**
 * The DestinationRule subset of a branch's version (`master-v1-0-1`), or of a whole branch
 * (`box-0999`): lower case, anything but letters and digits turned into `-`, as subset names
 * must be DNS labels.
 */
export function routerSubsetName(branch: string, version?: string): string {
  const raw = version === undefined ? branch : `${branch}-${version}`;
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
