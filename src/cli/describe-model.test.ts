import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../api/resource.js';
import { describe, type ServiceDescription, type WorkloadDescription } from './describe-model.js';
import type { InventoryService } from './mesh-inventory.js';

const svc = (
  host: string,
  ns: string,
  workloads: [string, string, Record<string, string>][],
): InventoryService => ({
  hostname: host,
  namespace: ns,
  ports: [{ name: 'http', number: 9080, protocol: 'HTTP' }],
  resolution: 'STATIC',
  location: 'MESH_INTERNAL',
  addresses: [],
  labels: {},
  source: `ServiceEntry/${ns}/${host.split('.')[0] ?? ''}`,
  endpoints: workloads.map(([name, address, labels]) => ({
    hostname: host,
    namespace: ns,
    address,
    ports: { http: 9080 },
    labels,
    locality: '',
    weight: 1,
    healthy: true,
    workloadName: name,
  })),
});

const res = (kind: string, name: string, namespace: string, spec: object, created = 0): Resource => ({
  apiVersion: 'x/v1',
  kind,
  metadata: { name, namespace, creationTimestamp: new Date(created * 1000).toISOString() },
  spec,
});

const services = [
  svc('reviews.default.svc.cluster.local', 'default', [
    ['reviews-v1', '10.0.0.1', { app: 'reviews', version: 'v1' }],
  ]),
  svc('reviews.staging.svc.cluster.local', 'staging', [
    ['reviews-v1', '10.1.0.1', { app: 'reviews', version: 'v1' }],
  ]),
  svc('ratings.default.svc.cluster.local', 'default', [['ratings', '10.0.0.5', { app: 'ratings' }]]),
];

const resources = {
  PeerAuthentication: [
    res('PeerAuthentication', 'default', 'default', { mtls: { mode: 'DISABLE' } }),
    res('PeerAuthentication', 'strict', 'staging', { mtls: { mode: 'STRICT' } }),
    res('PeerAuthentication', 'ports', 'default', {
      selector: { matchLabels: { app: 'ratings' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { '9080': { mode: 'PERMISSIVE' } },
    }),
  ],
  AuthorizationPolicy: [
    res('AuthorizationPolicy', 'deny-all-mesh', 'istio-system', {
      action: 'DENY',
      rules: [{ from: [{ source: { notNamespaces: ['default'] } }] }],
    }),
    res('AuthorizationPolicy', 'staging-only', 'staging', {}),
  ],
  VirtualService: [
    res('VirtualService', 'ratings-gw', 'default', {
      hosts: ['ratings'],
      gateways: ['bookinfo-gateway'],
      http: [{ route: [{ destination: { host: 'ratings' } }] }],
    }),
    res('VirtualService', 'ratings', 'default', {
      hosts: ['ratings.default.svc.cluster.local'],
      gateways: ['mesh'],
      http: [{ route: [{ destination: { host: 'ratings' } }] }],
    }),
  ],
  DestinationRule: [
    res('DestinationRule', 'all-default', 'default', { host: '*.default.svc.cluster.local' }),
  ],
  RateLimit: [],
};

const input = { services, resources, files: { 'VirtualService/default/ratings': 'vs.yaml' }, proxies: [] };

test('describe: a workload name in two namespaces is ambiguous; name.namespace picks one', () => {
  const r = describe(input, 'reviews-v1');
  assert.deepEqual(r, {
    ok: false,
    message: 'workload "reviews-v1" is in 2 namespaces; name one: reviews-v1.default, reviews-v1.staging',
  });
  const staging = describe(input, 'reviews-v1.staging');
  assert.ok(staging.ok);
  const d = staging.description as WorkloadDescription;
  // The namespace policy of staging, not default's; the mesh-wide DENY and staging's ALLOW-nothing.
  assert.equal(d.peerAuthentication.mode, 'STRICT');
  assert.deepEqual(
    d.peerAuthentication.policies.map((p) => [p.level, `${p.name}.${p.namespace}`]),
    [['namespace', 'strict.staging']],
  );
  assert.deepEqual(
    d.authorizationPolicies.map((a) => [a.name, a.action, a.rules]),
    [
      ['deny-all-mesh', 'DENY', 1],
      ['staging-only', 'ALLOW', 0],
    ],
  );
  // The wildcard DestinationRule of default does not reach staging's host.
  assert.deepEqual(d.services[0]?.destinationRules, []);
});

test('describe: port-level mTLS, a wildcard DestinationRule, gateway-only VirtualServices left out', () => {
  const r = describe(input, 'ratings', 'workload');
  assert.ok(r.ok);
  const d = r.description as WorkloadDescription;
  assert.equal(d.peerAuthentication.mode, 'STRICT, port 9080: PERMISSIVE');
  assert.deepEqual(
    d.peerAuthentication.policies.map((p) => p.level),
    ['namespace', 'workload'],
  );
  assert.deepEqual(
    d.authorizationPolicies.map((a) => a.name),
    ['deny-all-mesh'],
  );
  const s = d.services[0]!;
  assert.deepEqual(
    s.destinationRules.map((x) => x.name),
    ['all-default'],
  );
  assert.deepEqual(
    s.virtualServices.map((x) => [x.name, x.file]),
    [['ratings', 'vs.yaml']],
  );
});

test('describe: a service by first label, name.namespace or host; ambiguity and unknown names list candidates', () => {
  // "ratings" is a workload too: the workload wins unless 'service' is asked for.
  const auto = describe(input, 'ratings');
  assert.ok(auto.ok);
  assert.equal(auto.description.kind, 'workload');
  const s = describe(input, 'ratings', 'service');
  assert.ok(s.ok);
  assert.equal((s.description as ServiceDescription).service.hostname, 'ratings.default.svc.cluster.local');
  assert.deepEqual(
    (s.description as ServiceDescription).workloads.map((w) => w.name),
    ['ratings'],
  );
  const byNs = describe(input, 'reviews.staging');
  assert.ok(byNs.ok);
  assert.equal(
    (byNs.description as ServiceDescription).service.hostname,
    'reviews.staging.svc.cluster.local',
  );
  assert.deepEqual(describe(input, 'reviews'), {
    ok: false,
    message:
      'service "reviews" is ambiguous; name one by its host: reviews.default.svc.cluster.local, reviews.staging.svc.cluster.local',
  });
  const none = describe(input, 'details', 'workload');
  assert.deepEqual(none, {
    ok: false,
    message:
      'no workload "details" in the service index; known: ratings.default, reviews-v1.default, reviews-v1.staging',
  });
  assert.deepEqual(describe({ ...input, services: [] }, 'x'), {
    ok: false,
    message: 'no workload or service "x" in the service index (it is empty)',
  });
});
