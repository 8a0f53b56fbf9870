/**
 * `trellis explain` as a user runs it: a real control plane and a real Trellis sidecar, the
 * command naming the sidecar through the control plane, which asks the proxy's admin /explain.
 * Exit codes (0 succeed, 1 fail, 2 usage), the text, -o json, --request-id for a request the
 * sidecar served and failed, unknown proxies listing the candidates, and an Envoy refused (501).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { listenOn } from '../../../src/core/net.js';
import { eventually } from '../../../src/core/testing/eventually.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

test('explain prints the route, cluster and failure of a request, with exit codes and json', async () => {
  const backend = http.createServer((_req, res) => res.end('ok'));
  const port = await listenOn(backend, '127.0.0.1', 0);
  const mesh = await startMesh();
  mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [${REVIEWS}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} }, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: ${REVIEWS}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [${REVIEWS}]
  http:
  - name: jason
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: ${REVIEWS}, subset: v2 } }]
  - name: default
    route: [{ destination: { host: ${REVIEWS}, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: details }
spec:
  hosts: [details.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details }
spec:
  hosts: [details.default.svc.cluster.local]
  http:
  - name: details-api
    match: [{ uri: { prefix: /details } }]
    route: [{ destination: { host: details.default.svc.cluster.local } }]
`);
  const proxy = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  const envoy = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.9.0.7~ratings-1.default~default.svc.cluster.local',
  });
  const cp = ['--control-plane', mesh.httpUrl];
  const url = `http://${REVIEWS}:9080/reviews/1`;
  try {
    await eventually(
      async () => (await viaSidecar(proxy, `${REVIEWS}:9080`, '/reviews/1')).status === 200,
      'routes served',
    );

    const ok = await runTrellis(['explain', '--from', 'productpage-1', url, ...cp]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(
      ok.stdout,
      /^GET http:\/\/reviews\.default\.svc\.cluster\.local:9080\/reviews\/1 from productpage-1\n/,
    );
    assert.match(ok.stdout, /listener +0\.0\.0\.0_9080 \(route config 9080\)/);
    assert.match(ok.stdout, / 1\. jason +no: needs header end-user is "jason"/);
    assert.match(ok.stdout, / 2\. default +MATCHED/);
    assert.match(
      ok.stdout,
      /cluster +outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local\n +endpoints:\n +127\.0\.0\.1:\d+ healthy/,
    );
    assert.match(ok.stdout, /result +SUCCEED: sent upstream\n$/);

    const jason = await runTrellis([
      'explain',
      '--from',
      'productpage-1',
      '-H',
      'end-user: jason',
      url,
      ...cp,
    ]);
    assert.equal(jason.code, 1, jason.stderr);
    assert.match(jason.stdout, / 1\. jason +MATCHED/);
    assert.match(jason.stdout, /result +FAIL 503\n +503 UH: no healthy upstream/);
    assert.match(jason.stdout, /why: subset v2 of reviews\.default\.svc\.cluster\.local has no endpoints/);
    assert.match(
      jason.stdout,
      /fix: check the DestinationRule subset v2 labels against the workloads' labels/,
    );

    const json = await runTrellis([
      'explain',
      '--from',
      'productpage-1.default',
      '-X',
      'post',
      '-H',
      'end-user:jason',
      url,
      '-o',
      'json',
      ...cp,
    ]);
    assert.equal(json.code, 1, json.stderr);
    const e = JSON.parse(json.stdout) as {
      request: { method: string };
      route: { name: string };
      outcome: { result: string; failures: { flag: string }[] };
    };
    assert.equal(e.request.method, 'POST');
    assert.equal(e.route.name, 'jason');
    assert.deepEqual([e.outcome.result, e.outcome.failures[0]?.flag], ['fail', 'UH']);

    const nr = await runTrellis([
      'explain',
      '--from',
      'productpage-1',
      'http://details.default.svc.cluster.local:9080/other',
      ...cp,
    ]);
    assert.equal(nr.code, 1, nr.stdout);
    assert.match(nr.stdout, / 1\. details-api +no: path "\/other" does not start with "\/details"/);
    assert.match(nr.stdout, /result +FAIL 404\n +404 NR: no route/);
    assert.match(
      nr.stdout,
      /fix: add a match for this request to the VirtualService of details\.default\.svc\.cluster\.local/,
    );
    const passthrough = await runTrellis([
      'explain',
      '--from',
      'productpage-1',
      'http://example.org/',
      ...cp,
    ]);
    assert.equal(passthrough.code, 0, passthrough.stdout);
    assert.match(passthrough.stdout, /note: the host is resolved by DNS/);
    assert.match(
      passthrough.stdout,
      /no service of the mesh matches example\.org: the request leaves the mesh through the allow_any passthrough/,
    );

    // A request the sidecar served and failed, by the id its access log carries.
    const failed = await viaSidecar(proxy, `${REVIEWS}:9080`, '/reviews/2', {
      'end-user': 'jason',
      'x-request-id': 'cli-req-1',
    });
    assert.equal(failed.status, 503);
    const byId = await runTrellis(['explain', '--from', 'productpage-1', '--request-id', 'cli-req-1', ...cp]);
    assert.equal(byId.code, 1, byId.stderr);
    assert.match(
      byId.stdout,
      /actual +503 UH at \S+ \(outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local\), 0 attempt\(s\)\n +UH: no healthy upstream/,
    );
    const gone = await runTrellis(['explain', '--from', 'productpage-1', '--request-id', 'nope', ...cp]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no failed request with id "nope" among the last 256 failures/);

    // Naming: an unknown proxy lists the connected ones; an Envoy cannot explain.
    const unknown = await runTrellis(['explain', '--from', 'nobody', url, ...cp]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /no connected proxy "nobody"; name a proxy by its workload name[\s\S]*productpage-1\.default/,
    );
    await eventually(
      async () => (await runTrellis(['proxy-status', ...cp])).stdout.includes('ratings-1'),
      'envoy connected',
    );
    const refused = await runTrellis(['explain', '--from', 'ratings-1', url, ...cp]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /proxy ratings-1\.default .* cannot explain requests: an Envoy .* 'trellis proxy-config routes ratings-1\.default'/,
    );

    // Usage errors exit 2 before any connection.
    for (const [args, message] of [
      [['explain', url], /--from PROXY is required/],
      [['explain', '--from', 'productpage-1'], /expected a URL or --request-id ID/],
      [
        ['explain', '--from', 'productpage-1', '-H', 'no-colon', url],
        /-H "no-colon": expected 'NAME: VALUE'/,
      ],
      [['explain', '--from', 'productpage-1', '-o', 'yaml', url], /-o yaml: expected text or json/],
      [['explain', '--from', 'productpage-1', 'not a url', ...cp], /url "not a url": expected http:\/\/HOST/],
    ] as const) {
      const r = await runTrellis([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    envoy.close();
    await proxy.stop(0);
    await mesh.stop();
    backend.close();
  }
});
