/**
 * The most common test setup: one service (`app:9080`, cluster `outbound|9080||app...`) with one
 * HTTP/1.1 backend, behind a proxy whose listener and route a test can adjust. Closed (with the
 * harness's no-request-held check) when the test ends.
 */
import { FakeAds } from './fake-ads.js';
import { startBackend, startMesh, type Backend, type Mesh } from './harness.js';
import { edsCluster, endpoints, httpListener, routeConfig, routeTo, virtualHost } from './resources.js';

export const APP_CLUSTER = 'outbound|9080||app.default.svc.cluster.local';
export const APP_HOST = 'app:9080';

export interface ServiceMeshOptions {
  /** The backend's request handler (startBackend's echo when absent), or a backend started already. */
  backend?: Parameters<typeof startBackend>[1] | Backend;
  /** httpListener's extras: upgradeTypes, more HCM fields, ... */
  listener?: Parameters<typeof httpListener>[2];
  /** The route's match; default every path. */
  match?: object;
}

export async function startServiceMesh(
  t: { after(fn: () => Promise<void>): void },
  opts: ServiceMeshOptions = {},
): Promise<Mesh & { backend: Backend }> {
  const backend = typeof opts.backend === 'object' ? opts.backend : await startBackend('app', opts.backend);
  const mesh = await startMesh(
    {
      CDS: [edsCluster(APP_CLUSTER)],
      EDS: [endpoints(APP_CLUSTER, [{ port: backend.port }])],
      LDS: [httpListener(9080, '9080', opts.listener)],
      RDS: [routeConfig('9080', [virtualHost('app', [APP_HOST], [routeTo(APP_CLUSTER, opts.match)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  return { ...mesh, backend };
}
