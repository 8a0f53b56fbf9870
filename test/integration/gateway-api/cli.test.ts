/**
 * The Gateway API as a user meets it on the command line: `trellis apply` of the kind of YAML
 * the Gateway API and Istio documentation show (written here in their shape, unchanged by hand
 * for Trellis), `trellis get` with the routes' ACCEPTED/RESOLVED columns, `-o yaml` with the
 * status the control plane computed, and a bad route refused with file, document and field path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { eventually } from '../../../src/core/testing/eventually.js';

// In the shape of Istio's "Getting started with the Kubernetes Gateway API" (bookinfo) and the
// Gateway API's traffic splitting guide.
const SAMPLE = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bookinfo
spec:
  parentRefs:
  - name: bookinfo-gateway
  rules:
  - matches:
    - path:
        type: Exact
        value: /productpage
    - path:
        type: PathPrefix
        value: /static
    - path:
        type: Exact
        value: /login
    - path:
        type: Exact
        value: /logout
    - path:
        type: PathPrefix
        value: /api/v1/products
    backendRefs:
    - name: productpage
      port: 9080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: reviews
    port: 9080
  rules:
  - backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 90
    - name: reviews-v2
      port: 9080
      weight: 10
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: elsewhere
spec:
  parentRefs:
  - name: bookinfo-gateway
  hostnames: ["other.example.com"]
  rules:
  - backendRefs:
    - name: ratings
      namespace: backend
      port: 9080
`;

test('apply Gateway API YAML as written; get shows ACCEPTED/RESOLVED; -o yaml shows status', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-gwapi-'));
  const cp = startTrellis([
    'control-plane',
    '--config',
    dir,
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ]);
  try {
    const m = await cp.waitForOutput(/serving xDS on 127\.0\.0\.1:\d+, HTTP on (http:\/\/127\.0\.0\.1:\d+)/);
    const at = ['--control-plane', m[1]!];
    const file = path.join(dir, '..', `${path.basename(dir)}-sample.yaml`);
    await writeFile(file, SAMPLE);
    const applied = await runTrellis(['apply', '-f', file, ...at]);
    await rm(file, { force: true });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^gateway\.gateway\.networking\.k8s\.io\/bookinfo-gateway created$/m);
    assert.match(applied.stdout, /^httproute\.gateway\.networking\.k8s\.io\/bookinfo created$/m);

    // The bookinfo Services do not exist yet: the routes are attached, their backends not found.
    const missing = await eventually(async () => {
      const r = await runTrellis(['get', 'httproutes', ...at]);
      return /\nbookinfo +\S* *True +False \(BackendNotFound\)/.test(r.stdout) ? r : false;
    }, "the routes' status computed");
    assert.match(missing.stdout, /\nreviews +True +False \(BackendNotFound\)/);
    const services = path.join(dir, '..', `${path.basename(dir)}-services.yaml`);
    await writeFile(
      services,
      ['productpage', 'reviews', 'reviews-v1', 'reviews-v2']
        .map(
          (name) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`,
        )
        .join('---\n'),
    );
    const appliedServices = await runTrellis(['apply', '-f', services, ...at]);
    await rm(services, { force: true });
    assert.equal(appliedServices.code, 0, appliedServices.stderr);
    const routes = await eventually(async () => {
      const r = await runTrellis(['get', 'httproutes', ...at]);
      return /\nbookinfo +\S* *True +True/.test(r.stdout) ? r : false;
    }, 'the backends found once their services exist');
    assert.match(routes.stdout, /^NAME +HOSTNAMES +ACCEPTED +RESOLVED +AGE/m);
    assert.match(routes.stdout, /\nreviews +True +True/, 'a Service parent (GAMMA) is accepted');
    assert.match(routes.stdout, /\nelsewhere +\["other\.example\.com"\] +True +False \(RefNotPermitted\)/);

    const gtw = await runTrellis(['get', 'gtw', ...at]);
    assert.match(gtw.stdout, /^NAME +CLASS +PROGRAMMED +AGE\nbookinfo-gateway +istio +True/m);
    const istioGateways = await runTrellis(['get', 'gateways', ...at]);
    assert.match(istioGateways.stderr, /No Gateway resources found/, "bare `gateways` stays Istio's kind");

    const yaml = await runTrellis(['get', 'httproute', 'elsewhere', '-o', 'yaml', ...at]);
    assert.equal(yaml.code, 0, yaml.stderr);
    const shown = parse(yaml.stdout) as {
      kind: string;
      status: {
        parents: {
          parentRef: { name: string };
          controllerName: string;
          conditions: { type: string; status: string; reason: string; message: string }[];
        }[];
      };
    };
    assert.equal(shown.kind, 'HTTPRoute');
    const parent = shown.status.parents[0]!;
    assert.equal(parent.parentRef.name, 'bookinfo-gateway');
    assert.equal(parent.controllerName, 'trellis.io/gateway-controller');
    const resolved = parent.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.equal(resolved.reason, 'RefNotPermitted');
    assert.match(resolved.message, /add one/, 'the message says what to do');

    const gwYaml = parse(
      (
        await runTrellis([
          'get',
          'gateways.gateway.networking.k8s.io',
          'bookinfo-gateway',
          '-o',
          'yaml',
          ...at,
        ])
      ).stdout,
    ) as {
      kind: string;
      apiVersion: string;
      status: { listeners: { name: string; attachedRoutes: number }[] };
    };
    assert.equal(gwYaml.kind, 'Gateway');
    assert.equal(gwYaml.apiVersion, 'gateway.networking.k8s.io/v1');
    assert.deepEqual(
      gwYaml.status.listeners.map((l) => [l.name, l.attachedRoutes]),
      [['http', 2]],
    );
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('apply refuses an invalid HTTPRoute with file:doc and field path, and applies nothing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-gwapi-bad-'));
  const file = path.join(dir, 'bad.yaml');
  await writeFile(
    file,
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bad }
spec:
  parentRefs: [{ name: gw }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: api } }]
    filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 418 } }]
    backendRefs: [{ name: svc }]
`,
  );
  try {
    const r = await runTrellis(['apply', '-f', file, '--control-plane', 'http://127.0.0.1:9']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /bad\.yaml:1: spec\.rules\[0\]\.matches\[0\]\.path\.value: "api" must be an absolute path and start with "\/"/,
    );
    assert.match(
      r.stderr,
      /bad\.yaml:1: spec\.rules\[0\]\.filters\[0\]\.requestRedirect\.statusCode: 418 is not valid/,
    );
    assert.match(
      r.stderr,
      /bad\.yaml:1: spec\.rules\[0\]\.backendRefs: must be empty on a rule with a RequestRedirect filter/,
    );
    assert.match(
      r.stderr,
      /bad\.yaml:1: spec\.rules\[0\]\.backendRefs\[0\]\.port: required for a Service reference/,
    );
    assert.match(r.stderr, /nothing was applied/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
