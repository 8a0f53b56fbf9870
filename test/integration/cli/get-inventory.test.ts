/**
 * `trellis get services|workloads|endpoints` run as processes against a real control plane fed
 * with ServiceEntries, WorkloadEntries and a registration, with one sidecar connected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { eventually } from '../../../src/core/testing/eventually.js';

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: reviews } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v1 }
spec: { address: 127.0.0.11, labels: { app: reviews, version: v1 }, ports: { http: 19080 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2 }
spec: { address: 127.0.0.12, labels: { app: reviews, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: external }
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 443, name: tls, protocol: TLS }]
`;

test('get services, workloads and endpoints list the service index, with -A, NAME, -o wide|yaml|json', async () => {
  const mesh = await startMesh();
  mesh.apply(CONFIG);
  const reg = await fetch(`${mesh.httpUrl}/v1/registrations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      service: 'ratings',
      address: '127.0.0.21',
      ports: { http: 9080 },
      workloadName: 'ratings-v1',
      labels: { app: 'ratings' },
    }),
  });
  assert.equal(reg.status, 201);
  const client = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~127.0.0.11~reviews-v1.default~default.svc.cluster.local',
    metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'reviews-v1' },
  });
  const cp = ['--control-plane', mesh.httpUrl];
  try {
    await eventually(async () => {
      const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as unknown[];
      return rows.length === 1;
    }, 'sidecar connected');

    const svc = await runTrellis(['get', 'services', ...cp]);
    assert.equal(svc.code, 0, svc.stderr);
    assert.match(svc.stdout, /^NAME\s+PORTS\s+ENDPOINTS\s+LOCATION\n/);
    assert.match(svc.stdout, /\nreviews\.default\.svc\.cluster\.local\s+9080\/HTTP\s+2\/2\s+MESH_INTERNAL\n/);
    assert.match(svc.stdout, /\nratings\.default\.svc\.cluster\.local\s+9080\/HTTP\s+1\/1\s+MESH_INTERNAL\n/);
    assert.doesNotMatch(svc.stdout, /httpbin/); // another namespace

    const allWide = await runTrellis(['get', 'svc', '-A', '-o', 'wide', ...cp]);
    assert.equal(allWide.code, 0, allWide.stderr);
    assert.match(
      allWide.stdout,
      /^NAMESPACE\s+NAME\s+PORTS\s+ENDPOINTS\s+LOCATION\s+RESOLUTION\s+ADDRESSES\s+LABELS\s+SOURCE\n/,
    );
    assert.match(
      allWide.stdout,
      /\nexternal\s+httpbin\.org\s+443\/TLS\s+1\/1\s+MESH_EXTERNAL\s+DNS\s+<none>\s+<none>\s+ServiceEntry\/external\/httpbin\n/,
    );

    const eps = await runTrellis(['get', 'endpoints', 'reviews', ...cp]);
    assert.equal(eps.code, 0, eps.stderr);
    assert.equal(
      eps.stdout,
      [
        'ENDPOINT           SERVICE                             PORT        HEALTH    WORKLOAD',
        '127.0.0.11:19080   reviews.default.svc.cluster.local   9080/HTTP   HEALTHY   reviews-v1',
        '127.0.0.12:9080    reviews.default.svc.cluster.local   9080/HTTP   HEALTHY   reviews-v2',
        '',
      ].join('\n'),
    );

    const wl = await runTrellis(['get', 'workloads', ...cp]);
    assert.equal(wl.code, 0, wl.stderr);
    assert.equal(
      wl.stdout,
      [
        'NAME         SERVICES   READY   PROXY',
        'ratings-v1   ratings    1/1     none',
        'reviews-v1   reviews    1/1     1 connected',
        'reviews-v2   reviews    1/1     none',
        '',
      ].join('\n'),
    );

    const json = await runTrellis(['get', 'wl', 'reviews-v1', '-o', 'json', ...cp]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as {
      kind: string;
      items: { name: string; labels: object; proxies: string[] }[];
    };
    assert.equal(parsed.kind, 'workloads');
    assert.deepEqual(
      parsed.items.map((w) => [w.name, w.labels, w.proxies]),
      [
        [
          'reviews-v1',
          { app: 'reviews', version: 'v1' },
          ['sidecar~127.0.0.11~reviews-v1.default~default.svc.cluster.local'],
        ],
      ],
    );

    const yaml = await runTrellis(['get', 'services', 'httpbin.org', '-n', 'external', '-o', 'yaml', ...cp]);
    assert.equal(yaml.code, 0, yaml.stderr);
    const doc = parse(yaml.stdout) as { items: { hostname: string; endpoints: { address: string }[] }[] };
    assert.deepEqual(
      doc.items.map((s) => [s.hostname, s.endpoints.map((e) => e.address)]),
      [['httpbin.org', ['httpbin.org']]],
    );

    // Nothing in a namespace: a message on stderr, exit 0; an unknown NAME: exit 1 with the hint.
    const empty = await runTrellis(['get', 'services', '-n', 'nowhere', ...cp]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, 'No services found in namespace nowhere (every namespace: -A).\n');
    const unknown = await runTrellis(['get', 'endpoints', 'details', ...cp]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /^trellis get: no endpoint "details" in namespace default \(every namespace: -A\); list them with 'trellis get endpoints'\n$/,
    );
  } finally {
    client.close();
    await mesh.stop();
  }
});
