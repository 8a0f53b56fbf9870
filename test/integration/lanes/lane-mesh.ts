/**
 * A three-service chain for sandbox lanes (issue #13): client -> A -> B -> C through real Trellis
 * proxies and a real control plane, where only B has a sandbox version (branch `box-x`).
 *
 *   client sidecar --> A sidecar (inbound) --> app A --> A sidecar (outbound)
 *                  --> B v1 | B box-x sidecar (inbound) --> app B --> its outbound --> C --> app C
 *
 * Each app answers with JSON naming itself and, when it calls on, the next service's answer.
 * Apps forward the trace headers Istio asks apps to forward (or those the request's `forward`
 * query names: `traceparent`, `x-request-id`, `none`), never the lane header or baggage: the
 * sidecars carry the lane.
 */
import http from 'node:http';
import net from 'node:net';
import { silentLogger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { TrellisProxy } from '../../../src/proxy/proxy.js';
import { request, type SimpleResponse } from '../../../src/proxy/testing/harness.js';
import { realClock } from '../helpers/sidecar.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { affectedTypes, generate } from '../../../src/xds/translate/index.js';
import { TRELLIS_FILTERS_METADATA } from '../../../src/protocol/trellis/lanes-filter.js';

export const HOST = (svc: string) => `${svc}.default.svc.cluster.local`;
const FORWARDED = ['traceparent', 'tracestate', 'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'b3'];

export interface ChainAnswer {
  svc: string;
  /** The lane header the app received (what the sidecar in front of it let through). */
  lane?: string;
  /** The baggage the app received. */
  baggage?: string;
  path: string;
  next?: ChainAnswer | { status: number };
}

export interface App {
  name: string;
  port: number;
  hits: number;
  close(): Promise<void>;
}

/** An app that answers, and first calls `next` through its own sidecar when given one. */
async function startApp(name: string, next?: { svc: string; proxy: () => TrellisProxy }): Promise<App> {
  const app: App = { name, port: 0, hits: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    app.hits++;
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://app');
      const answer: ChainAnswer = { svc: name, path: url.pathname };
      const lane = req.headers['x-trellis-lane'];
      if (typeof lane === 'string') answer.lane = lane;
      if (typeof req.headers.baggage === 'string') answer.baggage = req.headers.baggage;
      if (next) {
        const wanted = url.searchParams.get('forward');
        const names = wanted === null ? FORWARDED : wanted === 'none' ? [] : wanted.split(',');
        const headers: Record<string, string> = {};
        for (const h of names) {
          const v = req.headers[h];
          if (typeof v === 'string') headers[h] = v;
        }
        const hostPort = `${HOST(next.svc)}:9080`;
        const r = await request(next.proxy().listeners.ports.outbound, {
          host: hostPort,
          path: `http://${hostPort}${req.url ?? '/'}`,
          headers,
        });
        answer.next = r.status === 200 ? r.json<ChainAnswer>() : { status: r.status };
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as net.AddressInfo).port;
  app.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return app;
}

/** A port free right now on 127.0.0.1 (the sidecar's inbound listener binds it next). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startLaneProxy(
  xdsPort: number,
  p: {
    name: string;
    ip: string;
    labels: Record<string, string>;
    bind?: number[];
    mode?: 'sidecar' | 'gateway';
  },
): Promise<TrellisProxy> {
  const mode = p.mode ?? 'sidecar';
  const proxy = new TrellisProxy({
    xds: `127.0.0.1:${xdsPort}`,
    bootstrap: {
      nodeId: `${mode === 'gateway' ? 'router' : 'sidecar'}~${p.ip}~${p.name}.default~default.svc.cluster.local`,
      cluster: `${p.name}.default`,
      mode,
      namespace: 'default',
      workloadName: p.name,
      labels: p.labels,
      instanceIps: [p.ip],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: p.bind ?? [],
    clock: realClock,
    random: seededRandom(7),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
  });
  await proxy.start();
  return proxy;
}

interface Workload {
  name: string;
  svc: string;
  labels: Record<string, string>;
  next?: string;
}

/** The workloads: B has production (v1) and the sandbox box-x; A and C production only. */
const WORKLOADS: Workload[] = [
  { name: 'a-v1', svc: 'a', labels: { app: 'a', version: 'v1' }, next: 'b' },
  { name: 'b-v1', svc: 'b', labels: { app: 'b', version: 'v1' }, next: 'c' },
  { name: 'b-box-x', svc: 'b', labels: { app: 'b', version: 'box-x', branch: 'box-x' }, next: 'c' },
  { name: 'c-v1', svc: 'c', labels: { app: 'c', version: 'v1' } },
];

const ENVOY_LIKE = 'client-envoy-box-x';

export interface LaneMesh {
  mesh: TestMesh;
  apps: Map<string, App>;
  proxies: Map<string, TrellisProxy>;
  /** Production and sandboxed (branch box-x) callers' sidecars. */
  client: TrellisProxy;
  sandboxClient: TrellisProxy;
  /**
   * A sandboxed caller served as the control plane serves Envoy (its node metadata without
   * TRELLIS_FILTERS): no lane filter, the lane added by its route configurations.
   */
  envoySandboxClient: TrellisProxy;
  /** A request from a caller to service A (or `svc`) through its sidecar. */
  call(
    from: TrellisProxy,
    path?: string,
    headers?: Record<string, string>,
    svc?: string,
  ): Promise<SimpleResponse>;
}

/** Lane routing for B, as a Router (or a person) writes it: the lane's route before production. */
export const LANE_ROUTING = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: b, namespace: default }
spec:
  host: ${HOST('b')}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: box-x, labels: { branch: box-x } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: b, namespace: default }
spec:
  hosts: [${HOST('b')}]
  http:
  - match: [{ headers: { x-trellis-lane: { exact: box-x } } }]
    route: [{ destination: { host: ${HOST('b')}, subset: box-x } }]
  - route: [{ destination: { host: ${HOST('b')}, subset: v1 } }]
`;

export async function startLaneMesh(t: { after(fn: () => Promise<void>): void }): Promise<LaneMesh> {
  const mesh = await startMesh({
    debounceMs: 10,
    translator: {
      affectedTypes,
      generate: (push, proxy, typeUrl, names) => {
        if (proxy.workloadName !== ENVOY_LIKE) return generate(push, proxy, typeUrl, names);
        const metadata = { ...proxy.metadata };
        delete metadata[TRELLIS_FILTERS_METADATA];
        return generate(push, { ...proxy, metadata }, typeUrl, names);
      },
    },
  });
  const proxies = new Map<string, TrellisProxy>();
  const apps = new Map<string, App>();
  const ports = new Map<string, number>();
  t.after(async () => {
    for (const p of proxies.values()) await p.stop(100);
    for (const a of apps.values()) await a.close();
    await mesh.stop();
  });
  // Each workload: an app, and a sidecar whose inbound listener (a Sidecar's ingress) fronts it.
  for (const w of WORKLOADS) {
    // B's app calls C through its own sidecar, whichever version it is.
    const own = () => proxies.get(w.name)!;
    apps.set(w.name, await startApp(w.name, w.next ? { svc: w.next, proxy: own } : undefined));
    ports.set(w.name, await freePort());
  }
  const yaml: string[] = [];
  for (const svc of ['a', 'b', 'c']) {
    const eps = WORKLOADS.filter((w) => w.svc === svc).map(
      (w) =>
        `  - { address: 127.0.0.1, ports: { http: ${ports.get(w.name)} }, labels: ${JSON.stringify(w.labels)} }`,
    );
    yaml.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${svc}, namespace: default }
spec:
  hosts: [${HOST(svc)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
${eps.join('\n')}
`);
  }
  for (const w of WORKLOADS) {
    yaml.push(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${w.name}, namespace: default }
spec:
  workloadSelector: { labels: ${JSON.stringify(w.labels)} }
  ingress:
  - port: { number: ${ports.get(w.name)}, protocol: HTTP, name: http }
    defaultEndpoint: 127.0.0.1:${apps.get(w.name)!.port}
`);
  }
  mesh.apply(yaml.join('---\n') + '---\n' + LANE_ROUTING);
  let ip = 1;
  for (const w of WORKLOADS) {
    proxies.set(
      w.name,
      await startLaneProxy(mesh.xdsPort, {
        name: w.name,
        ip: `10.9.0.${ip++}`,
        labels: w.labels,
        bind: [ports.get(w.name)!],
      }),
    );
  }
  const client = await startLaneProxy(mesh.xdsPort, {
    name: 'client',
    ip: '10.9.1.1',
    labels: { app: 'client' },
  });
  proxies.set('client', client);
  const sandboxClient = await startLaneProxy(mesh.xdsPort, {
    name: 'client-box-x',
    ip: '10.9.1.2',
    labels: { app: 'client', branch: 'box-x' },
  });
  proxies.set('client-box-x', sandboxClient);
  const envoySandboxClient = await startLaneProxy(mesh.xdsPort, {
    name: ENVOY_LIKE,
    ip: '10.9.1.3',
    labels: { app: 'client', branch: 'box-x' },
  });
  proxies.set(ENVOY_LIKE, envoySandboxClient);
  const call = (from: TrellisProxy, path = '/', headers: Record<string, string> = {}, svc = 'a') => {
    const hostPort = `${HOST(svc)}:9080`;
    return request(from.listeners.ports.outbound, {
      host: hostPort,
      path: `http://${hostPort}${path}`,
      headers,
    });
  };
  // Ready once a lane request reaches the sandbox from both callers (every proxy has its config).
  for (const from of [client, sandboxClient, envoySandboxClient]) {
    await eventually(
      async () => {
        const r = await call(from, '/', from === client ? { 'x-trellis-lane': 'box-x' } : {});
        return (
          r.status === 200 && JSON.stringify(r.json()).includes('"svc":"c-v1"') && r.body.includes('b-box-x')
        );
      },
      { what: 'the chain serving the lane', timeoutMs: 15_000 },
    );
  }
  return { mesh, apps, proxies, client, sandboxClient, envoySandboxClient, call };
}

/** The services an answer went through, in order. */
export function pathOf(answer: ChainAnswer | { status: number } | undefined): string[] {
  const out: string[] = [];
  let a: ChainAnswer | { status: number } | undefined = answer;
  while (a !== undefined) {
    if ('svc' in a) {
      out.push(a.svc);
      a = a.next;
    } else {
      out.push(`status ${a.status}`);
      a = undefined;
    }
  }
  return out;
}
