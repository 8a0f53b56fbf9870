/**
 * `trellis tap` as a user runs it: a real Trellis sidecar with traffic flowing, the command
 * naming it through the control plane and streaming the requests that match its filters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';
import { listenOn } from '../../../src/core/net.js';
import { eventually } from '../../../src/core/testing/eventually.js';

test('tap streams matching requests through a proxy and stops after --max', async () => {
  const backend = http.createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
    res.end('x');
  });
  const port = await listenOn(backend, '127.0.0.1', 0);
  const mesh = await startMesh();
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
`);
  const proxy = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  let sending = true;
  let sent = 0;
  const traffic = (async () => {
    await eventually(
      async () => (await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080')).status === 200,
      'ready',
    );
    while (sending) {
      await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080', '/other');
      await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080', `/missing/${sent++}`);
    }
  })();
  const cp = ['--control-plane', mesh.httpUrl];
  try {
    const text = await runTrellis(['tap', 'productpage-1', '--path', '/missing', '--max', '3', ...cp]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, text.stdout);
    for (const l of lines)
      assert.match(
        l,
        /^\d{4}-\d\d-\d\dT[\d:.]+Z GET reviews\.default\.svc\.cluster\.local:9080\/missing\/\d+ 404 - [\d.]+ms -> outbound\|9080\|\|reviews\.default\.svc\.cluster\.local 127\.0\.0\.1:\d+$/,
      );

    const json = await runTrellis([
      'tap',
      '--admin',
      `127.0.0.1:${proxy.adminPort}`,
      '--method',
      'get',
      '--path',
      '/other',
      '--max',
      '2',
      '-o',
      'json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; status: number });
    assert.deepEqual(
      events.map((e) => [e.path, e.status]),
      [
        ['/other', 200],
        ['/other', 200],
      ],
    );

    // Bad flag values are usage errors before any connection; an unknown proxy lists the known.
    const bad = await runTrellis(['tap', 'productpage-1', '--max', '0', ...cp]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max 0: expected at least 1/);
    const unknown = await runTrellis(['tap', 'nobody', ...cp]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no connected proxy "nobody"/);
  } finally {
    sending = false;
    await traffic;
    await proxy.stop(0);
    await mesh.stop();
    backend.close();
  }
});
