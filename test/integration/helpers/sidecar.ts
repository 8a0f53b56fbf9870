/**
 * A Trellis proxy as a sidecar of the in-process control plane (helpers/mesh.ts), on ephemeral
 * ports, with the real clock; requests go to its outbound capture the way an HTTP_PROXY client
 * sends them (absolute URL, Host `service:port`).
 */
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { seededRandom } from '../../../src/core/random.js';
import { TrellisProxy, type ProxyOptions } from '../../../src/proxy/proxy.js';
import { request, type SimpleResponse } from '../../../src/proxy/testing/harness.js';

export const realClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export async function startSidecar(
  xdsPort: number,
  opts: { app?: string; ip?: string; logger?: Logger } & Partial<ProxyOptions> = {},
): Promise<TrellisProxy> {
  const { app = 'client', ip = '10.9.0.1', ...overrides } = opts;
  const proxy = new TrellisProxy({
    xds: `127.0.0.1:${xdsPort}`,
    bootstrap: {
      nodeId: `sidecar~${ip}~${app}-1.default~default.svc.cluster.local`,
      cluster: `${app}.default`,
      mode: 'sidecar',
      namespace: 'default',
      workloadName: `${app}-1`,
      labels: { app },
      instanceIps: [ip],
      locality: '',
    },
    version: 'test',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock: realClock,
    random: seededRandom(11),
    logger: silentLogger,
    accessLogStdout: { write: () => true },
    xdsBackoff: { baseMs: 20, maxMs: 200 },
    ...overrides,
  });
  await proxy.start();
  return proxy;
}

/** A request to `host:port` through the sidecar's outbound capture. */
export async function viaSidecar(
  proxy: TrellisProxy,
  hostPort: string,
  path = '/',
  headers: Record<string, string> = {},
): Promise<SimpleResponse> {
  return await request(proxy.listeners.ports.outbound, {
    host: hostPort,
    path: `http://${hostPort}${path}`,
    headers,
  });
}
