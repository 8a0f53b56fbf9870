/** A small mesh sending traffic at a known rate, for the service graph tests. */
import http from 'node:http';
import { validateResource } from '../../../src/api/validate.js';
import { parseAndValidate } from '../../../src/api/parse.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane, type ControlPlaneOptions } from '../../../src/controlplane/control-plane.js';
import { listenOn } from '../../../src/core/net.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

export const REVIEWS = 'reviews.default.svc.cluster.local';

export interface GraphMesh {
  cp: ControlPlane;
  httpUrl: string;
  proxy: TrellisProxy;
  /** Sends `perSecond` requests a second (one every 1000/perSecond ms) until stopped. */
  send(perSecond: number): { stop(): Promise<number> };
  close(): Promise<void>;
}

export async function startGraphMesh(options: Partial<ControlPlaneOptions> = {}): Promise<GraphMesh> {
  const app = http.createServer((_q, r) => r.end('ok'));
  const appPort = await listenOn(app, '127.0.0.1', 0);
  const store = new MemoryConfigStore((r) => validateResource(r));
  const cp = new ControlPlane({
    config: store,
    debounce: { quietMs: 10, maxMs: 1000 },
    graphScrapeIntervalMs: 250,
    ...options,
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  for (const doc of parseAndValidate(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${REVIEWS}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${appPort} }, labels: { app: reviews, version: v1 } }]
`,
    'graph.yaml',
  ))
    if (doc.resource) store.apply(doc.resource);
  const proxy = await startSidecar(bound.xds.port, { app: 'productpage' });
  await eventually(async () => (await viaSidecar(proxy, `${REVIEWS}:9080`)).status === 200, 'route ready');
  return {
    cp,
    httpUrl: `http://127.0.0.1:${bound.http.port}`,
    proxy,
    send(perSecond) {
      let sending = true;
      let sent = 0;
      const every = 1000 / perSecond;
      const start = performance.now();
      const loop = (async () => {
        while (sending) {
          await viaSidecar(proxy, `${REVIEWS}:9080`);
          sent++;
          const due = start + sent * every - performance.now();
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
      })();
      return {
        stop: async () => {
          sending = false;
          await loop;
          return sent;
        },
      };
    },
    close: async () => {
      await proxy.stop(100);
      await cp.stop();
      app.closeAllConnections();
      await new Promise<void>((r) => app.close(() => r()));
    },
  };
}
