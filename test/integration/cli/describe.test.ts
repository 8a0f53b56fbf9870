/**
 * `trellis describe` as a user runs it: a `trellis control-plane` process serving a directory of
 * Istio YAML, a sidecar connected, and describe printing what applies with the file behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { eventually } from '../../../src/core/testing/eventually.js';

const SERVICES = `apiVersion: networking.istio.io/v1
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
spec: { address: 127.0.0.11, labels: { app: reviews, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2 }
spec: { address: 127.0.0.12, labels: { app: reviews, version: v2 } }
`;

const TRAFFIC = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    fault: { delay: { fixedDelay: 7s, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v2 } }]
  - timeout: 2s
    retries: { attempts: 3, perTryTimeout: 500ms }
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
`;

const SECURITY = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: PERMISSIVE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: reviews-strict }
spec:
  selector: { matchLabels: { app: reviews } }
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer }
spec:
  selector: { matchLabels: { version: v1 } }
  rules: [{ to: [{ operation: { methods: [GET] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ratings-only }
spec:
  selector: { matchLabels: { app: ratings } }
  rules: [{}]
---
apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: reviews-limit }
spec:
  hosts: [reviews]
  limits: [{ name: all, quota: { requests: 10, per: second } }]
`;

test('describe a workload and a service: routes, subsets, mTLS, authorization and rate limits, with their files', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-describe-'));
  await writeFile(path.join(dir, 'services.yaml'), SERVICES);
  await writeFile(path.join(dir, 'traffic.yaml'), TRAFFIC);
  await writeFile(path.join(dir, 'security.yaml'), SECURITY);
  const cp = startTrellis([
    'control-plane',
    '--config',
    dir,
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ]);
  let client: ReturnType<typeof connectEnvoyLike> | undefined;
  try {
    const m = await cp.waitForOutput(
      /serving xDS on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    const http = m[2]!;
    client = connectEnvoyLike(Number(m[1]), {
      id: 'sidecar~127.0.0.11~reviews-v1.default~default.svc.cluster.local',
      metadata: {
        NAMESPACE: 'default',
        WORKLOAD_NAME: 'reviews-v1',
        LABELS: { app: 'reviews', version: 'v1' },
      },
    });
    await eventually(
      async () => ((await (await fetch(`${http}/debug/syncz`)).json()) as unknown[]).length === 1,
      'connected',
    );
    const cpFlag = ['--control-plane', http];

    const w = await runTrellis(['describe', 'reviews-v1', ...cpFlag]);
    assert.equal(w.code, 0, w.stderr);
    const traffic = path.join(dir, 'traffic.yaml');
    const security = path.join(dir, 'security.yaml');
    assert.equal(
      w.stdout,
      [
        'Workload: reviews-v1.default',
        '   Labels: app=reviews, version=v1',
        '   Addresses: 127.0.0.11',
        '   Proxy: sidecar~127.0.0.11~reviews-v1.default~default.svc.cluster.local',
        `   PeerAuthentication: STRICT (from mesh policy default.istio-system (${security}): PERMISSIVE; workload policy reviews-strict.default (${security}): STRICT)`,
        `   AuthorizationPolicy: reviews-viewer.default (${security}): ALLOW, 1 rule`,
        '--------------------',
        'Service: reviews.default.svc.cluster.local (ServiceEntry/default/reviews)',
        '   Port: http 9080/HTTP',
        `   DestinationRule: reviews.default (${traffic})`,
        '      Matching subsets: v1',
        '      (Non-matching subsets: v2)',
        '      Traffic policy: {"loadBalancer":{"simple":"LEAST_REQUEST"}}',
        `   VirtualService: reviews.default (${traffic})`,
        '      1. header end-user exact jason -> reviews subset v2; delay 7s 100%',
        '      2. any request -> reviews subset v1 90%, reviews subset v2 10%; timeout 2s; retries 3 x 500ms',
        `   RateLimit: reviews-limit.default (${security}): local, server side, 1 limit`,
        '',
      ].join('\n'),
    );

    // reviews-v2 is not selected by the v1-only AuthorizationPolicy, and has no proxy.
    const w2 = await runTrellis(['describe', 'workload', 'reviews-v2.default', ...cpFlag]);
    assert.equal(w2.code, 0, w2.stderr);
    assert.match(w2.stdout, /\n {3}Proxy: none connected\n/);
    assert.match(w2.stdout, /\n {3}AuthorizationPolicies: none \(every request allowed\)\n/);
    assert.match(w2.stdout, /\n {6}Matching subsets: v2\n {6}\(Non-matching subsets: v1\)\n/);

    const s = await runTrellis(['describe', 'service', 'reviews', ...cpFlag]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^Service: reviews\.default\.svc\.cluster\.local/);
    assert.match(s.stdout, /\n {6}Matching subsets: v1, v2\n/);
    assert.match(
      s.stdout,
      /\n {3}Workloads:\n {6}reviews-v1\.default 127\.0\.0\.11 \(proxy: sidecar~127\.0\.0\.11~[^)]+\)\n {6}reviews-v2\.default 127\.0\.0\.12 \(proxy: none connected\)\n$/,
    );

    const json = await runTrellis(['describe', 'reviews-v1', '-o', 'json', ...cpFlag]);
    assert.equal(json.code, 0, json.stderr);
    const d = JSON.parse(json.stdout) as {
      kind: string;
      authorizationPolicies: { name: string; file: string }[];
    };
    assert.equal(d.kind, 'workload');
    assert.deepEqual(
      d.authorizationPolicies.map((a) => [a.name, a.file]),
      [['reviews-viewer', security]],
    );

    const unknown = await runTrellis(['describe', 'details', ...cpFlag]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /^trellis describe: no workload or service "details" in the service index; known: reviews-v1\.default, reviews-v2\.default, reviews\.default\.svc\.cluster\.local\n$/,
    );
    const usage = await runTrellis(['describe', ...cpFlag]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected \[workload\|service\] NAME/);
  } finally {
    client?.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
