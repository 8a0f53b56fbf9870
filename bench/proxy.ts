/**
 * Proxy throughput: HTTP/1.1 keep-alive requests straight to a backend, then through the
 * Trellis proxy's outbound listener (node:http Agent pool per endpoint upstream), at a fixed
 * concurrency for a fixed time. Prints requests/s and p50/p99 latency for both.
 *
 *   npm run bench:proxy            (BENCH_SECONDS=5 BENCH_CONCURRENCY=32 by default)
 */
import http from 'node:http';
import { FakeAds } from '../src/proxy/testing/fake-ads.js';
import { eventually, startBackend, startProxy } from '../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../src/proxy/testing/resources.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);

async function load(
  port: number,
  host: string,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = http.request(
        { host: '127.0.0.1', port, path: '/bench', headers: { host }, agent },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - start);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    rps: Math.round(latencies.length / seconds),
    p50: +at(0.5).toFixed(2),
    p99: +at(0.99).toFixed(2),
    errors,
  };
}

const backend = await startBackend('bench', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
});
const C = 'outbound|9080||bench.default.svc.cluster.local';
const ads = await FakeAds.start();
ads.set('CDS', [edsCluster(C)]);
ads.set('EDS', [endpoints(C, [{ port: backend.port }])]);
ads.set('LDS', [httpListener(9080)]);
ads.set('RDS', [routeConfig('9080', [virtualHost('bench', ['bench:9080'], [routeTo(C)])])]);
const proxy = await startProxy(ads);
await eventually(() => proxy.ready && proxy.snapshot().routes.size === 1, 'proxy ready');

const direct = await load(backend.port, 'bench:9080');
const proxied = await load(proxy.listeners.ports.outbound, 'bench:9080');
console.log(`node ${process.version}, ${seconds}s at concurrency ${concurrency}`);
console.log(`direct   ${JSON.stringify(direct)}`);
console.log(`proxied  ${JSON.stringify(proxied)}`);
console.log(
  `proxy overhead: ${(direct.rps / Math.max(1, proxied.rps)).toFixed(2)}x fewer requests/s through the proxy`,
);
await proxy.stop(100);
await ads.close();
await backend.close();
