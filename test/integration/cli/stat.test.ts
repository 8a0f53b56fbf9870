/**
 * `trellis stat` and `trellis top` as a user runs them: a real control plane, a real Trellis
 * sidecar sending traffic to two services (one always 200, one always 503), and the commands
 * scraping the sidecar's /stats/prometheus through the admin address the control plane lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';
import { listenOn } from '../../../src/core/net.js';
import { eventually } from '../../../src/core/testing/eventually.js';

const entry = (name: string, port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
`;

test('stat, stat --edges and top --once measure rps, success and latency from the proxies', async () => {
  const ok = http.createServer((_q, r) => r.end('ok'));
  const failing = http.createServer((_q, r) => ((r.statusCode = 503), r.end('down')));
  const okPort = await listenOn(ok, '127.0.0.1', 0);
  const failingPort = await listenOn(failing, '127.0.0.1', 0);
  const mesh = await startMesh();
  mesh.apply(`${entry('reviews', okPort)}---\n${entry('ratings', failingPort)}`);
  const proxy = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080');
      await viaSidecar(proxy, 'ratings.default.svc.cluster.local:9080');
    }
  })();
  const cp = ['--control-plane', mesh.httpUrl];
  try {
    await eventually(
      async () => (await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080')).status === 200,
      'routes ready',
    );

    const stat = await runTrellis(['stat', '--window', '1s', ...cp]);
    assert.equal(stat.code, 0, stat.stderr);
    assert.match(stat.stdout, /^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\n/);
    assert.match(stat.stdout, /\nproductpage-1\.default\s+yes\s+-\s+0\.0rps\s+-\s+-\s+-\n/);
    assert.match(
      stat.stdout,
      /\nratings\.default\s+no\s+0\.00%\s+[1-9][\d.]*rps\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\n/,
    );
    assert.match(
      stat.stdout,
      /\nreviews\.default\s+no\s+100\.00%\s+[1-9][\d.]*rps\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\n/,
    );

    const one = await runTrellis(['stat', 'ratings', '--window', '500ms', '-o', 'json', ...cp]);
    assert.equal(one.code, 0, one.stderr);
    const parsed = JSON.parse(one.stdout) as {
      windowMs: number;
      rows: { name: string; successRate: number; requests: number }[];
    };
    assert.equal(parsed.windowMs, 500);
    assert.deepEqual(
      parsed.rows.map((r) => [r.name, r.successRate]),
      [['ratings.default', 0]],
    );
    assert.ok((parsed.rows[0]?.requests ?? 0) > 0);

    const edges = await runTrellis(['stat', '--edges', '--window', '1s', ...cp]);
    assert.equal(edges.code, 0, edges.stderr);
    assert.match(edges.stdout, /^SRC\s+DST\s+SUCCESS/);
    assert.match(edges.stdout, /\nproductpage-1\.default\s+reviews\.default\s+100\.00%\s/);
    assert.match(edges.stdout, /\nproductpage-1\.default\s+ratings\.default\s+0\.00%\s/);

    // Piped, top prints one table and exits, busiest first.
    const top = startTrellis(['top', '--window', '1s', ...cp]);
    assert.equal(await top.exited, 0, top.stderr());
    const rows = top
      .stdout()
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    assert.equal(rows.at(-1), 'productpage-1.default', top.stdout()); // idle last
    assert.deepEqual(new Set(rows.slice(0, 2)), new Set(['ratings.default', 'reviews.default']));
    assert.ok(!top.stdout().includes('\u001b['), 'no terminal control codes into a pipe');

    const unknown = await runTrellis(['stat', 'details', '--window', '100ms', ...cp]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no workload "details" in the proxies' metrics/);
    const badWindow = await runTrellis(['stat', '--window', 'soon', ...cp]);
    assert.equal(badWindow.code, 2);
    assert.match(
      badWindow.stderr,
      /--window "soon": expected a duration between 1ms and 1h, e\.g\. 10s or 500ms/,
    );
  } finally {
    sending = false;
    await traffic;
    await proxy.stop(0);
    await mesh.stop();
    ok.close();
    failing.close();
  }
});

test('stat with no proxy to scrape, and a proxy whose admin is gone, say so', async () => {
  const mesh = await startMesh();
  try {
    const none = await runTrellis(['stat', '--window', '100ms', '--control-plane', mesh.httpUrl]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no proxy to read metrics from: none is connected with an admin address .*pass --admin URL for one/,
    );
    const gone = await runTrellis(['stat', '--window', '100ms', '--admin', '127.0.0.1:9']);
    assert.equal(gone.code, 0);
    assert.match(
      gone.stderr,
      /trellis stat: 127\.0\.0\.1:9: cannot scrape http:\/\/127\.0\.0\.1:9\/stats\/prometheus/,
    );
    assert.equal(gone.stdout, 'No traffic in the window.\n');
  } finally {
    await mesh.stop();
  }
});
