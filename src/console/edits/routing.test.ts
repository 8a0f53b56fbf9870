import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { accessLogEdit, routingEdit } from './routing.js';
import type { ResourceObject, ServiceInfo } from './model.js';

const SVC: ServiceInfo = {
  host: 'reviews.shop.svc.cluster.local',
  name: 'reviews',
  namespace: 'shop',
  versions: ['v1', 'v2'],
};

test('weights with no VirtualService: a DestinationRule with a subset per version, then a weighted route', () => {
  const plan = routingEdit(SVC, {}, { weights: { v1: '80', v2: '20' }, headerRoutes: [] });
  assert.ok(plan.ok);
  assert.equal(
    plan.resources.map((r) => stringify(r)).join('---\n'),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews.shop.svc.cluster.local
  subsets:
    - name: v1
      labels:
        version: v1
    - name: v2
      labels:
        version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts:
    - reviews.shop.svc.cluster.local
  http:
    - name: default
      route:
        - destination:
            host: reviews.shop.svc.cluster.local
            subset: v1
          weight: 80
        - destination:
            host: reviews.shop.svc.cluster.local
            subset: v2
          weight: 20
`,
  );
});

test('header routes come before the weighted route; the existing VirtualService and DestinationRule keep their other fields', () => {
  const vs: ResourceObject = {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: 'reviews-routes', namespace: 'shop', annotations: { team: 'books' } },
    spec: {
      hosts: ['reviews'],
      gateways: ['mesh'],
      http: [{ route: [{ destination: { host: 'reviews' } }] }],
    },
  };
  const dr: ResourceObject = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews-dr', namespace: 'shop' },
    spec: {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
      subsets: [{ name: 'v1', labels: { version: 'v1', tier: 'a' } }],
    },
  };
  const plan = routingEdit(
    SVC,
    { virtualService: vs, destinationRule: dr },
    { weights: { v1: '100', v2: '' }, headerRoutes: [{ header: 'X-User', value: 'jason', version: 'v2' }] },
  );
  assert.ok(plan.ok);
  const [outDr, outVs] = plan.resources as [ResourceObject, ResourceObject];
  assert.deepEqual(outDr.metadata, { name: 'reviews-dr', namespace: 'shop' });
  assert.deepEqual(outDr.spec, {
    host: 'reviews',
    trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
    subsets: [
      { name: 'v1', labels: { version: 'v1', tier: 'a' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  assert.equal(outVs.apiVersion, 'networking.istio.io/v1beta1');
  assert.deepEqual(outVs.metadata, {
    name: 'reviews-routes',
    namespace: 'shop',
    annotations: { team: 'books' },
  });
  assert.deepEqual(outVs.spec, {
    hosts: ['reviews'],
    gateways: ['mesh'],
    http: [
      {
        name: 'header-1',
        match: [{ headers: { 'x-user': { exact: 'jason' } } }],
        route: [{ destination: { host: SVC.host, subset: 'v2' } }],
      },
      { name: 'default', route: [{ destination: { host: SVC.host, subset: 'v1' }, weight: 100 }] },
    ],
  });
});

test('a weight that is not a number is sent as typed for the control plane to name', () => {
  const plan = routingEdit(SVC, {}, { weights: { v1: 'most' }, headerRoutes: [] });
  assert.ok(plan.ok);
  assert.deepEqual(
    (plan.resources[1]!.spec.http as { route: { weight: unknown }[] }[])[0]!.route[0]!.weight,
    'most',
  );
});

test('no weights: nothing written', () => {
  assert.deepEqual(routingEdit(SVC, {}, { weights: { v1: ' ', v2: '' }, headerRoutes: [] }), {
    ok: false,
    message: 'give at least one version a weight',
  });
});

const ROUTER: ResourceObject = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'Router',
  metadata: { name: 'reviews', namespace: 'shop', annotations: { a: 'b' } },
  spec: { port: 9080, subsets: [{ branch: 'master', versions: { v1: 100 } }, { branch: 'box-1' }] },
};

test('a service with a Router: its production branch takes the weights, nothing else is written', () => {
  const plan = routingEdit(
    SVC,
    { router: ROUTER, virtualService: ROUTER },
    { weights: { v1: '90', v2: '10' }, headerRoutes: [] },
  );
  assert.ok(plan.ok);
  assert.equal(plan.resources.length, 1);
  assert.deepEqual(plan.resources[0], {
    ...ROUTER,
    spec: { port: 9080, subsets: [{ branch: 'master', versions: { v1: 90, v2: 10 } }, { branch: 'box-1' }] },
  });
  const named = routingEdit(
    SVC,
    { router: { ...ROUTER, spec: { port: 9080, productionBranch: 'main', subsets: [] } } },
    { weights: { v2: '100' }, headerRoutes: [] },
  );
  assert.ok(named.ok);
  assert.deepEqual(named.resources[0]!.spec.subsets, [{ branch: 'main', versions: { v2: 100 } }]);
});

test('a Router has no header routes: the console says so and writes nothing', () => {
  const plan = routingEdit(
    SVC,
    { router: ROUTER },
    { weights: { v1: '100' }, headerRoutes: [{ header: 'x', value: 'y', version: 'v1' }] },
  );
  assert.equal(plan.ok, false);
  assert.match(plan.ok ? '' : plan.message, /routed by its Router, which has no header routes/);
});

test('the access log switch writes a Telemetry for the app, on and off', () => {
  assert.equal(
    stringify(accessLogEdit(SVC, 'reviews', true)),
    `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: reviews-console-access-log
  namespace: shop
spec:
  selector:
    matchLabels:
      app: reviews
  accessLogging:
    - providers:
        - name: envoy
      disabled: false
`,
  );
  assert.equal(
    (accessLogEdit(SVC, 'reviews', false).spec.accessLogging as { disabled: boolean }[])[0]!.disabled,
    true,
  );
});
