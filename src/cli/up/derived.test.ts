import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../../api/validate.js';
import { derivedResources, type WorkloadPorts } from './derived.js';
import { planFromSpec } from './manifest.js';

const plan = planFromSpec('/mesh/mesh.yaml', 'shop', 'default', {
  gateway: { name: 'shop-gateway' },
  workloads: [
    {
      name: 'reviews-v1',
      service: 'reviews',
      labels: { version: 'v1' },
      ports: [{ port: 9080, protocol: 'http' }],
      command: ['r'],
    },
    {
      name: 'reviews-v2',
      service: 'reviews',
      labels: { version: 'v2' },
      ports: [{ port: 9080, protocol: 'http' }],
      command: ['r'],
    },
    {
      name: 'api',
      service: 'api',
      namespace: 'web',
      ports: [{ port: 50051, protocol: 'grpc', name: 'grpc-api' }],
      command: ['a'],
    },
  ],
});
const ports = new Map<string, WorkloadPorts>([
  ['reviews-v1', { app: { http: 30001 }, inbound: { http: 30002 } }],
  ['reviews-v2', { app: { http: 30003 }, inbound: { http: 30004 } }],
  ['api', { app: { 'grpc-api': 30005 }, inbound: { 'grpc-api': 30006 } }],
]);

test('derived resources are valid Istio resources', () => {
  for (const r of derivedResources(plan, ports, 18080)) {
    const errors = validateResource(r).filter((p) => p.severity === 'error');
    assert.deepEqual(errors, [], `${r.kind}/${r.metadata.name}`);
  }
});

test('one ServiceEntry per service, with the manifest ports', () => {
  const ses = derivedResources(plan, ports, undefined).filter((r) => r.kind === 'ServiceEntry');
  assert.deepEqual(
    ses.map((r) => [
      r.metadata.namespace,
      (r.spec as { hosts: string[] }).hosts[0],
      (r.spec as { ports: unknown }).ports,
    ]),
    [
      ['default', 'reviews.default.svc.cluster.local', [{ number: 9080, name: 'http', protocol: 'HTTP' }]],
      ['web', 'api.web.svc.cluster.local', [{ number: 50051, name: 'grpc-api', protocol: 'GRPC' }]],
    ],
  );
});

test('each workload gets a Sidecar whose ingress binds its inbound port and forwards to its app', () => {
  const sc = derivedResources(plan, ports, undefined).find((r) => r.metadata.name === 'up-reviews-v2');
  assert.deepEqual(sc?.spec, {
    workloadSelector: { labels: { 'trellis.io/workload': 'reviews-v2' } },
    ingress: [
      {
        port: { number: 30004, name: 'http-30004', protocol: 'HTTP' },
        bind: '127.0.0.1',
        defaultEndpoint: '127.0.0.1:30003',
      },
    ],
    egress: [{ hosts: ['*/*'] }],
  });
});

test('the Gateway listens on the port the gateway binds and selects istio: ingressgateway by default', () => {
  const gw = derivedResources(plan, ports, 18080).find((r) => r.kind === 'Gateway');
  assert.deepEqual(gw?.metadata, { name: 'shop-gateway', namespace: 'default' });
  assert.deepEqual(gw?.spec, {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 18080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  });
});

test('workload plans carry the workload label and absolute working directories', () => {
  assert.deepEqual(plan.workloads[0]?.labels, { version: 'v1', 'trellis.io/workload': 'reviews-v1' });
  assert.equal(plan.workloads[0]?.workingDir, '/mesh');
  assert.equal(plan.configDir, '/mesh/config');
  assert.equal(plan.gateway?.port, 8080);
});
