/**
 * The everyday proxy-config additions as a user runs them (processes against a real control
 * plane and proxies): filters, -o yaml, `all`, the routes table's DESTINATION and POLICY, and
 * `proxy-config log` changing a real Trellis proxy's log level and access log at runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { parse } from 'yaml';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';
import { createLogger } from '../../../src/core/logger.js';
import { listenOn } from '../../../src/core/net.js';
import { eventually } from '../../../src/core/testing/eventually.js';

const NODE = 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local';

const config = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, labels: { version: v1 }, ports: { http: ${port} } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /slow } }]
    fault: { delay: { fixedDelay: 7s, percentage: { value: 50 } }, abort: { httpStatus: 503, percentage: { value: 10.5 } } }
    timeout: 2.5s
    retries: { attempts: 3, perTryTimeout: 1s, retryOn: 5xx }
    route: [{ destination: { host: reviews, subset: v1 } }]
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 80 }
    - { destination: { host: reviews, subset: v2 }, weight: 20 }
`;

test('proxy-config filters, -o yaml|json, all, and the route policy columns', async () => {
  const mesh = await startMesh();
  mesh.apply(config(9));
  const client = connectEnvoyLike(mesh.xdsPort, {
    id: NODE,
    metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'productpage-v1' },
  });
  const cp = ['--control-plane', mesh.httpUrl];
  try {
    await eventually(
      () => client.received.some((r) => r.type === 'RDS' && r.names.includes('9080')),
      'routes pushed',
    );
    const routes = await runTrellis(['proxy-config', 'routes', 'productpage-v1', '--name', '9080', ...cp]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(
      routes.stdout,
      /^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+DESTINATION\s+POLICY\s+VIRTUAL SERVICE\n/,
    );
    assert.match(
      routes.stdout,
      /\n9080\s+reviews\.default\.svc\.cluster\.local:9080\s+.*\s\/slow\/\*\s+reviews:9080\|v1\s+timeout 2\.5s; retries 3 x 1s on 5xx; delay 7s 50%; abort 503 10\.5%\s+reviews\.default\n/,
    );
    assert.match(
      routes.stdout,
      /\n9080\s+reviews\.default\.svc\.cluster\.local:9080\s+.*\s\/\*\s+v1 80%, v2 20%\s+retries 2\s+reviews\.default\n/,
    );
    assert.doesNotMatch(routes.stdout, /inbound\|/);

    const none = await runTrellis(['proxy-config', 'routes', 'productpage-v1', '--port', '15000', ...cp]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout.split('\n').length, 2, none.stdout); // the header only

    const yaml = await runTrellis([
      'proxy-config',
      'clusters',
      'productpage-v1',
      '--fqdn',
      'reviews',
      '--subset',
      'v2',
      '-o',
      'yaml',
      ...cp,
    ]);
    assert.equal(yaml.code, 0, yaml.stderr);
    const clusters = parse(yaml.stdout) as { name: string }[];
    assert.deepEqual(
      clusters.map((c) => c.name),
      ['outbound|9080|v2|reviews.default.svc.cluster.local'],
    );
    const table = await runTrellis([
      'proxy-config',
      'cluster',
      'productpage-v1',
      '--direction',
      'outbound',
      '--port',
      '9080',
      ...cp,
    ]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.trimEnd().split('\n').length, 4, table.stdout); // header, no subset, v1, v2

    const all = await runTrellis(['proxy-config', 'all', 'productpage-v1', ...cp]);
    assert.equal(all.code, 0, all.stderr);
    for (const header of [
      /^SERVICE FQDN\s+PORT\s+SUBSET/m,
      /^ADDRESSES\s+PORT\s+MATCH\s+DESTINATION$/m,
      /^NAME\s+VHOST NAME\s+DOMAINS/m,
      /^ENDPOINT\s+STATUS\s+OUTLIER CHECK\s+CLUSTER$/m,
      /^RESOURCE NAME\s+TYPE\s+STATUS/m,
    ])
      assert.match(all.stdout, header);
    const allJson = await runTrellis(['proxy-config', 'all', 'productpage-v1', '-o', 'json', ...cp]);
    assert.equal(allJson.code, 0, allJson.stderr);
    const doc = JSON.parse(allJson.stdout) as Record<string, unknown[]>;
    assert.equal(doc.node, NODE);
    assert.deepEqual(Object.keys(doc), ['node', 'clusters', 'listeners', 'routes', 'endpoints', 'secrets']);
    assert.ok(doc.clusters!.length >= 3 && doc.routes!.length >= 1 && doc.endpoints!.length >= 1);

    // A filter for another type is a usage error (exit 2) naming what the type takes.
    const wrong = await runTrellis(['proxy-config', 'routes', 'productpage-v1', '--subset', 'v1', ...cp]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--subset filters clusters, not routes; routes take --name, --port/);
    const format = await runTrellis(['proxy-config', 'routes', 'productpage-v1', '-o', 'xml', ...cp]);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /-o xml: expected table, json or yaml/);
  } finally {
    client.close();
    await mesh.stop();
  }
});

test("proxy-config log changes a running proxy's log level and access log, by name or --admin", async () => {
  const backend = http.createServer((_req, res) => res.end('ok'));
  const port = await listenOn(backend, '127.0.0.1', 0);
  const mesh = await startMesh();
  mesh.apply(config(port));
  const accessLines: string[] = [];
  const logLines: string[] = [];
  const logger = createLogger('proxy', { level: 'info', sink: { write: (l) => void logLines.push(l) } });
  const proxy = await startSidecar(mesh.xdsPort, {
    app: 'productpage',
    logger,
    accessLogStdout: { write: (l: string) => (accessLines.push(l), true) },
  });
  const cp = ['--control-plane', mesh.httpUrl];
  const request = async () => {
    const r = await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080', '/reviews/1');
    assert.equal(r.status, 200);
  };
  try {
    await eventually(
      async () => (await viaSidecar(proxy, 'reviews.default.svc.cluster.local:9080')).status === 200,
      'route ready',
    );
    // The mesh configures no access log: nothing is written.
    await request();
    assert.deepEqual(accessLines, []);

    const state = await runTrellis(['proxy-config', 'log', 'productpage-1', ...cp]);
    assert.equal(state.code, 0, state.stderr);
    assert.equal(
      state.stdout,
      `proxy: productpage-1.default (admin http://127.0.0.1:${proxy.adminPort})\nlog level: info\naccess log: config\n`,
    );

    const on = await runTrellis([
      'proxy-config',
      'log',
      'productpage-1',
      '--level',
      'debug',
      '--access-log',
      'on',
      ...cp,
    ]);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /\nlog level: debug\naccess log: on\n$/);
    assert.equal(logger.level, 'debug');
    await request();
    assert.equal(accessLines.length, 1);
    assert.match(accessLines[0] ?? '', /"GET \/reviews\/1 HTTP\/1\.1" 200 /);

    const off = await runTrellis([
      'proxy-config',
      'log',
      '--admin',
      `127.0.0.1:${proxy.adminPort}`,
      '--level',
      'warning',
      '--access-log',
      'off',
      '-o',
      'json',
    ]);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout), {
      proxy: `http://127.0.0.1:${proxy.adminPort}`,
      admin: `http://127.0.0.1:${proxy.adminPort}`,
      logLevel: 'warning',
      accessLog: 'off',
    });
    assert.equal(logger.level, 'warn');
    await request();
    assert.equal(accessLines.length, 1, 'off writes nothing');
    logLines.length = 0;
    logger.child('x').info('hidden at warning');
    assert.deepEqual(logLines, []);

    // A change by GET (a crawler, a browser preload, an <img> on a page) is refused; so is a
    // malformed tap query. Nothing changes.
    const admin = `http://127.0.0.1:${proxy.adminPort}`;
    const byGet = await fetch(`${admin}/logging?level=debug`);
    assert.equal(byGet.status, 405);
    assert.match(await byGet.text(), /needs POST \/logging\?level=LEVEL/);
    assert.equal((await fetch(`${admin}/access_log?state=on`)).status, 405);
    assert.equal(logger.level, 'warn');
    await request();
    assert.equal(accessLines.length, 1, 'still off');
    const badTap = await fetch(`${admin}/tap?max=-1`);
    assert.equal(badTap.status, 400);
    assert.match(await badTap.text(), /max="-1": expected a whole number/);

    // Bad values are usage errors; nothing is changed.
    const bad = await runTrellis(['proxy-config', 'log', 'productpage-1', '--level', 'loud', ...cp]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--level "loud": expected debug, info, warning or error/);
    const badAccess = await runTrellis([
      'proxy-config',
      'log',
      'productpage-1',
      '--access-log',
      'yes',
      ...cp,
    ]);
    assert.equal(badAccess.code, 2);
    assert.match(badAccess.stderr, /--access-log "yes": expected on, off or config/);
    assert.equal(logger.level, 'warn');
    const unknown = await runTrellis(['proxy-config', 'log', 'ratings-v1', ...cp]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no connected proxy "ratings-v1".*\n {2}productpage-1\.default/);
  } finally {
    await proxy.stop(0);
    await mesh.stop();
    backend.close();
  }
});

test('proxy-config log: a proxy without an admin address, and an unreachable admin, say what to do', async () => {
  const mesh = await startMesh();
  const envoy = connectEnvoyLike(mesh.xdsPort, { id: NODE });
  try {
    await eventually(
      async () => ((await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as unknown[]).length === 1,
      'connected',
    );
    const r = await runTrellis(['proxy-config', 'log', 'productpage-v1', '--control-plane', mesh.httpUrl]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /proxy productpage-v1\.default \(sidecar~127\.0\.0\.1~productpage-v1[^)]*\) did not report its admin address .*; pass --admin URL/,
    );
    const down = await runTrellis(['proxy-config', 'log', '--admin', '127.0.0.1:9']);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /cannot reach the proxy's admin endpoint at http:\/\/127\.0\.0\.1:9\/logging .*Pass --admin URL/,
    );
    const both = await runTrellis(['proxy-config', 'log', 'productpage-v1', '--admin', '127.0.0.1:9']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /expected log PROXY or log --admin URL \(one of them\)/);
  } finally {
    envoy.close();
    await mesh.stop();
  }
});
