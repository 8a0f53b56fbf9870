/**
 * The graph from a real Prometheus (Debian's `prometheus`, skipped with a reason when it is not
 * on PATH): `trellis up`'s Prometheus runner scrapes the sidecar through its generated file_sd
 * targets, and a control plane started with a Prometheus URL shows the same edge as its own scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/core/logger.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { ServiceGraph } from '../../../src/controlplane/graph/types.js';
import { findProgram } from '../../../src/cli/up/command-lookup.js';
import { PrometheusRunner } from '../../../src/cli/up/prometheus.js';
import { startGraphMesh } from './helpers.js';

const EDGE = 'app:default/productpage/latest->app:default/reviews/v1';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const found = findProgram('prometheus', process.cwd(), process.env.PATH);

test(
  'the graph read from Prometheus shows the edge the proxies report',
  { skip: found.found ? false : `prometheus is not on PATH (${found.reason}); scripts/setup.sh installs it` },
  async (t) => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-prom-'));
    const mesh = await startGraphMesh({ prometheusUrl: `http://127.0.0.1:${port}` });
    const prometheus = new PrometheusRunner({
      dir,
      port,
      proxies: () => mesh.cp.proxyStatus(),
      logger: silentLogger,
      env: process.env,
      cwd: process.cwd(),
      scrapeIntervalSeconds: 1,
      refreshMs: 200,
    });
    t.after(async () => {
      await prometheus.stop();
      await mesh.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await prometheus.start();
    const targets = JSON.parse(fs.readFileSync(path.join(dir, 'targets.json'), 'utf8')) as {
      targets: string[];
    }[];
    assert.deepEqual(
      targets.map((g) => g.targets[0]),
      [`127.0.0.1:${mesh.proxy.adminPort}`],
    );
    const traffic = mesh.send(20);
    try {
      const graph = await eventually(
        async () => {
          const res = await fetch(`${mesh.httpUrl}/v1/graph?type=versionedApp&window=5`);
          if (!res.ok) return false;
          const g = (await res.json()) as ServiceGraph;
          const e = g.edges.find((x) => x.id === EDGE);
          return e !== undefined && e.requestsPerSecond > 5 ? { g, e } : false;
        },
        { what: `edge ${EDGE} from Prometheus`, timeoutMs: 30_000 },
      );
      assert.equal(graph.g.source, 'prometheus');
      assert.ok(graph.e.requestsPerSecond < 30, `rate ${graph.e.requestsPerSecond}`);
      assert.equal(graph.e.errorRatio, 0);
    } finally {
      await traffic.stop();
    }
  },
);

test('a missing prometheus program is said with what to do', async () => {
  const runner = new PrometheusRunner({
    dir: os.tmpdir(),
    port: 1,
    proxies: () => [],
    logger: silentLogger,
    env: { PATH: '/nonexistent' },
    cwd: process.cwd(),
  });
  await assert.rejects(
    runner.start(),
    /--prometheus needs the prometheus program on PATH .*apt-get install prometheus.*--prometheus-url/,
  );
});
