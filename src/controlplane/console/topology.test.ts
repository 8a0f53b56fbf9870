import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, Service, ServiceIndexSnapshot } from '../../registry/types.js';
import { registryTopology } from './topology.js';

const svc = (
  hostname: string,
  protocol: string,
  location: Service['location'] = 'MESH_INTERNAL',
): Service => ({
  hostname,
  namespace: 'shop',
  ports: [{ name: 'p', number: 9080, protocol: protocol as Service['ports'][number]['protocol'] }],
  resolution: 'STATIC',
  location,
  addresses: [],
  labels: {},
  source: 'test',
});
const ep = (hostname: string, labels: Record<string, string>, workloadName?: string): Endpoint => ({
  hostname,
  namespace: 'shop',
  address: '10.0.0.1',
  ports: {},
  labels,
  locality: '',
  weight: 1,
  healthy: true,
  ...(workloadName ? { workloadName } : {}),
});

function snapshot(services: Service[], endpoints: Endpoint[]): ServiceIndexSnapshot {
  return {
    version: 1,
    services,
    service: (h) => services.find((s) => s.hostname === h),
    endpoints: (h) => endpoints.filter((e) => e.hostname === h),
  };
}

test('services point at their versioned apps; external services and duplicate endpoints are left out', () => {
  const g = registryTopology(
    snapshot(
      [
        svc('reviews.shop.svc.cluster.local', 'HTTP'),
        svc('db.shop.svc.cluster.local', 'TCP'),
        svc('api.example.com', 'HTTPS', 'MESH_EXTERNAL'),
        svc('grpc.shop.svc.cluster.local', 'GRPC'),
      ],
      [
        ep('reviews.shop.svc.cluster.local', { app: 'reviews', version: 'v1' }, 'reviews-v1'),
        ep('reviews.shop.svc.cluster.local', { app: 'reviews', version: 'v1' }, 'reviews-v1'),
        ep('reviews.shop.svc.cluster.local', { app: 'reviews', version: 'v2' }),
        ep('db.shop.svc.cluster.local', {}, 'db-0'),
        ep('grpc.shop.svc.cluster.local', { app: 'g' }),
      ],
    ),
    new Date('2026-01-01T00:00:00Z'),
  );
  assert.deepEqual(
    g.nodes.map((n) => n.id),
    [
      'service:reviews.shop.svc.cluster.local',
      'app:shop/reviews/v1',
      'app:shop/reviews/v2',
      'service:db.shop.svc.cluster.local',
      'app:shop/db-0',
      'service:grpc.shop.svc.cluster.local',
      'app:shop/g',
    ],
  );
  assert.deepEqual(
    g.edges.map((e) => `${e.id} ${e.protocol} ${e.requestsPerSecond}`),
    [
      'service:reviews.shop.svc.cluster.local->app:shop/reviews/v1 http 0',
      'service:reviews.shop.svc.cluster.local->app:shop/reviews/v2 http 0',
      'service:db.shop.svc.cluster.local->app:shop/db-0 tcp 0',
      'service:grpc.shop.svc.cluster.local->app:shop/g grpc 0',
    ],
  );
  assert.deepEqual(g.nodes[1], {
    id: 'app:shop/reviews/v1',
    kind: 'app',
    namespace: 'shop',
    name: 'reviews',
    app: 'reviews',
    version: 'v1',
    workload: 'reviews-v1',
  });
  assert.deepEqual(
    [g.type, g.source, g.generatedAt],
    ['versionedApp', 'registry', '2026-01-01T00:00:00.000Z'],
  );
});
