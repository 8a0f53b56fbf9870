/**
 * The Telemetry API live (issue #14): one workload's access log switched on by a Telemetry edit
 * and off again while it serves steady traffic, through the real control plane and a real Trellis
 * sidecar: no request fails, lines appear within a second of the edit and stop within a second of
 * its removal; and a filter expression `response.code >= 400` logs only the errors.
 *
 *   load (4 concurrent) --> client sidecar (outbound) --> backend (ServiceEntry reviews)
 *                              ^ LDS with access_log from the Telemetry, pushed by the ControlPlane
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import { startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

const HOST = 'reviews.default.svc.cluster.local';

let mesh: TestMesh;
let backend: Backend;
let client: TrellisProxy;
let other: TrellisProxy;
const lines: string[] = [];
const otherLines: string[] = [];

before(async () => {
  mesh = await startMesh();
  backend = await startBackend('reviews', (req, res) => {
    res.writeHead(req.url?.startsWith('/missing') ? 404 : 200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: ${backend.port} }]
  endpoints: [{ address: 127.0.0.1 }]
`);
  client = await startSidecar(mesh.xdsPort, {
    app: 'client',
    accessLogStdout: { write: (l) => void lines.push(l) },
  });
  other = await startSidecar(mesh.xdsPort, {
    app: 'other',
    ip: '10.9.0.2',
    accessLogStdout: { write: (l) => void otherLines.push(l) },
  });
  await eventually(async () => assert.equal((await viaSidecar(client, `${HOST}:9080`)).status, 200), {
    what: 'the client sidecar routes to reviews',
  });
  await eventually(async () => assert.equal((await viaSidecar(other, `${HOST}:9080`)).status, 200));
});

after(async () => {
  await client?.stop();
  await other?.stop();
  await backend?.close();
  await mesh?.stop();
});

const telemetry = (name: string, extra = '') => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name} }
spec:
  selector: { matchLabels: { app: client } }
  accessLogging:
  - providers: [{ name: envoy }]
${extra}`;

/** Requests through the client sidecar until stopped; every status it saw. */
function load(concurrency = 4): { stop: () => Promise<number[]> } {
  let running = true;
  const statuses: number[] = [];
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    let i = 0;
    while (running) {
      try {
        const r = await viaSidecar(client, `${HOST}:9080`, `/load/${w}/${i++}`, { 'user-agent': 'load' });
        statuses.push(r.status);
      } catch {
        statuses.push(0);
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return statuses;
    },
  };
}

test("one workload's access log switched on and off live under load: no failed request", async () => {
  lines.length = 0;
  const traffic = load();
  try {
    // Off to begin with: the mesh default logs nothing.
    const probe = await viaSidecar(client, `${HOST}:9080`, '/probe', { 'user-agent': 'probe-before' });
    assert.equal(probe.status, 200);
    assert.ok(!lines.some((l) => l.includes('probe-before')));

    const onAt = performance.now();
    mesh.apply(telemetry('client-logs'));
    await eventually(() => assert.ok(lines.some((l) => l.includes('"load"'))), {
      what: 'access log lines after the Telemetry is applied',
      timeoutMs: 1000,
    });
    const onMs = performance.now() - onAt;
    // Istio's text format: method, path, protocol, code.
    assert.match(
      lines.find((l) => l.includes('"load"')) ?? '',
      /^\[\S+\] "GET \/load\/\d+\/\d+ HTTP\/1\.1" 200 /,
    );

    const offAt = performance.now();
    mesh.remove('Telemetry', 'client-logs');
    let n = 0;
    await eventually(
      async () => {
        const ua = `probe-off-${n++}`;
        assert.equal((await viaSidecar(client, `${HOST}:9080`, '/probe', { 'user-agent': ua })).status, 200);
        assert.ok(!lines.some((l) => l.includes(ua)), 'still logging');
      },
      { what: 'access log lines to stop after the Telemetry is removed', timeoutMs: 1000 },
    );
    const offMs = performance.now() - offAt;
    // Once off it stays off.
    const count = lines.length;
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await viaSidecar(client, `${HOST}:9080`, '/after', { 'user-agent': 'after' })).status,
        200,
      );
    assert.ok(!lines.slice(count).some((l) => l.includes('"after"')), lines.slice(count).join(''));
    assert.ok(onMs < 1000 && offMs < 1000, `on ${onMs} ms, off ${offMs} ms`);
  } finally {
    const statuses = await traffic.stop();
    assert.ok(statuses.length > 20, `load sent ${statuses.length} requests`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      'every request under load succeeded',
    );
  }
  // The other workload of the namespace was never logged.
  assert.deepEqual(otherLines, []);
});

test('a filter expression response.code >= 400 logs only the errors', async () => {
  lines.length = 0;
  mesh.apply(telemetry('errors-only', "    filter: { expression: 'response.code >= 400' }\n"));
  try {
    await eventually(
      async () => {
        assert.equal(
          (await viaSidecar(client, `${HOST}:9080`, '/missing/x', { 'user-agent': 'err' })).status,
          404,
        );
        assert.ok(lines.some((l) => l.includes('/missing/x')));
      },
      { what: 'the 404 logged', timeoutMs: 2000 },
    );
    for (let i = 0; i < 10; i++)
      assert.equal((await viaSidecar(client, `${HOST}:9080`, `/fine/${i}`)).status, 200);
    assert.equal((await viaSidecar(client, `${HOST}:9080`, '/missing/y')).status, 404);
    await eventually(() => assert.ok(lines.some((l) => l.includes('/missing/y'))));
    assert.deepEqual(
      lines.filter((l) => l.includes('/fine/')),
      [],
      'no 200 logged',
    );
    assert.ok(
      lines.every((l) => / 404 /.test(l)),
      lines.join(''),
    );
  } finally {
    mesh.remove('Telemetry', 'errors-only');
  }
});

test('a filter that fails to evaluate logs nothing, fails no request, and is counted at /stats', async () => {
  lines.length = 0;
  // A header the requests do not carry: the map lookup fails at evaluation (parses fine).
  mesh.apply(
    telemetry('broken-filter', "    filter: { expression: \"request.headers['x-absent'] == 'a'\" }\n"),
  );
  const stats = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${client.adminPort}/stats`)).text();
    return Number(/^access_log\.cel_filter\.evaluation_errors: (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  try {
    await eventually(
      async () => {
        assert.equal((await viaSidecar(client, `${HOST}:9080`, '/counted')).status, 200);
        assert.ok((await stats()) > 0, 'evaluation errors counted');
      },
      { what: 'the failing filter applied and counted', timeoutMs: 2000 },
    );
    const before = await stats();
    for (let i = 0; i < 5; i++)
      assert.equal((await viaSidecar(client, `${HOST}:9080`, '/counted')).status, 200);
    assert.equal(await stats(), before + 5);
    assert.deepEqual(
      lines.filter((l) => l.includes('/counted')),
      [],
    );
  } finally {
    mesh.remove('Telemetry', 'broken-filter');
  }
});
