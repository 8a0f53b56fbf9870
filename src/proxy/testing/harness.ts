/**
 * Test wiring: a proxy on ephemeral ports against a FakeAds, echo backends, and a small HTTP
 * client that talks to the proxy's capture listener with a chosen Host.
 */
import http from 'node:http';
import type net from 'node:net';
import { FakeClock } from '../../core/clock.js';
import { memoryLogger, silentLogger, type Logger } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { eventually } from '../../core/testing/eventually.js';
import { TrellisProxy, type ProxyOptions } from '../proxy.js';
import type { FakeAds } from './fake-ads.js';

export { FakeClock, memoryLogger };

export async function startProxy(ads: FakeAds, overrides: Partial<ProxyOptions> = {}): Promise<TrellisProxy> {
  const logger: Logger = overrides.logger ?? silentLogger;
  const proxy = new TrellisProxy({
    xds: ads.address,
    bootstrap: {
      nodeId: 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
      cluster: 'productpage.default',
      mode: 'sidecar',
      namespace: 'default',
      workloadName: 'productpage-v1',
      labels: { app: 'productpage', version: 'v1' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock: { now: () => performance.now(), wallNow: () => Date.now(), setTimeout: realSetTimeout },
    random: seededRandom(7),
    logger,
    xdsBackoff: { baseMs: 20, maxMs: 100 },
    ...overrides,
  });
  await proxy.start();
  return proxy;
}

function realSetTimeout(fn: () => void, ms: number) {
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
}

export interface Backend {
  name: string;
  port: number;
  hits: number;
  server: http.Server;
  close(): Promise<void>;
}

/** An HTTP/1.1 server answering JSON {backend, path, method, headers, body}. */
export async function startBackend(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, backend: Backend) => void,
): Promise<Backend> {
  const backend: Backend = {
    name,
    port: 0,
    hits: 0,
    server: http.createServer(),
    close: async () => {
      backend.server.closeAllConnections();
      await new Promise<void>((r) => backend.server.close(() => r()));
    },
  };
  backend.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    backend.hits++;
    if (handler) return handler(req, res, backend);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        backend: name,
        path: req.url,
        method: req.method,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(body);
    });
  });
  await new Promise<void>((r) => backend.server.listen(0, '127.0.0.1', () => r()));
  backend.port = (backend.server.address() as net.AddressInfo).port;
  return backend;
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export async function request(
  port: number,
  opts: {
    host?: string;
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  } = {},
): Promise<SimpleResponse> {
  return await new Promise<SimpleResponse>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        headers: { host: opts.host ?? 'localhost', ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface Mesh {
  ads: FakeAds;
  proxy: TrellisProxy;
  /** The outbound capture port. */
  port: number;
}

/**
 * Starts a FakeAds serving `resources` and a proxy against it; waits until all are ACKed.
 *
 * Pass `{ clock: new FakeClock(start) }` in `overrides` for tests of time (idle timeouts, outlier
 * sweeps, fault delays, xDS backoff): the proxy's timers then fire only when the test calls
 * `clock.advance`. Sockets still run in real time, so a test waits for the bytes it needs to have
 * arrived (with `eventually`) before it moves the clock. While starting, the harness fires timers
 * that are due now (e.g. the zero-delay switch from delta to state-of-the-world xDS) without
 * moving time.
 */
export async function startMesh(
  resources: Partial<Record<'CDS' | 'EDS' | 'LDS' | 'RDS', object[]>>,
  overrides: Partial<ProxyOptions> = {},
  FakeAdsClass: { start(): Promise<FakeAds> },
): Promise<Mesh & { close(): Promise<void> }> {
  const ads = await FakeAdsClass.start();
  for (const type of ['CDS', 'EDS', 'LDS', 'RDS'] as const) {
    const list = resources[type];
    if (list) ads.set(type, list);
  }
  const proxy = await startProxy(ads, overrides);
  const fake = overrides.clock instanceof FakeClock ? overrides.clock : undefined;
  await eventually(() => {
    fake?.advance(0);
    return proxy.ready;
  }, 'proxy ready');
  for (const type of ['CDS', 'EDS', 'LDS', 'RDS'] as const) if (resources[type]) await ads.waitForAck(type);
  await eventually(() => proxy.snapshot().received.size >= Object.keys(resources).length, 'config applied');
  return {
    ads,
    proxy,
    port: proxy.listeners.ports.outbound,
    close: async () => {
      // The invariant every scenario ends with: once its clients are done or gone, nothing is
      // held upstream (issue #10: leaked streams took a service down).
      try {
        await eventually(() => heldRequests(proxy).length === 0, {
          what: 'active upstream requests to drain',
          timeoutMs: 3000,
        });
      } catch {
        throw new Error(`requests still held after the test: ${heldRequests(proxy).join(', ')}`);
      } finally {
        await proxy.stop(100);
        await ads.close();
      }
    },
  };
}

/** Clusters that still count active requests, pending requests or retries, or busy hosts. */
export function heldRequests(proxy: TrellisProxy): string[] {
  const held: string[] = [];
  for (const c of proxy.clusters.all()) {
    const name = c.config.name;
    for (const priority of ['DEFAULT', 'HIGH'] as const) {
      const b = c.breakers.forPriority(priority);
      for (const kind of ['requests', 'pending_requests', 'retries'] as const)
        if (b.active(kind) > 0) held.push(`${name} ${priority} ${kind}=${b.active(kind)}`);
    }
    for (const h of c.hosts)
      if (h.activeRequests !== 0) held.push(`${name} ${h.endpoint.key} rq_active=${h.activeRequests}`);
  }
  return held;
}
