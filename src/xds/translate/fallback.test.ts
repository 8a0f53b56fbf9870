import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import {
  checkEncodes,
  config,
  grpc,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';
const AGG = `outbound|9080|canary~fallback~stable|${HOST}`;

function generated(
  annotations: Record<string, string> | undefined,
  http_: HTTPRoute[],
  type: 'sidecar' | 'grpc' = 'sidecar',
) {
  const vs = res('VirtualService', 'default', 'reviews', { hosts: ['reviews'], http: http_ });
  if (annotations) vs.metadata.annotations = annotations;
  const dr = res('DestinationRule', 'default', 'reviews', {
    host: 'reviews',
    subsets: [
      { name: 'stable', labels: { version: 'stable' } },
      { name: 'canary', labels: { version: 'canary' } },
    ],
  });
  const ports = type === 'grpc' ? [grpc(9080)] : [http(9080)];
  const push = buildPushContext(config([vs, dr]), registry([service(HOST, ports)]));
  const p = proxy({ type, ipAddresses: ['10.9.9.9'] });
  const clusters = generate(push, p, TYPE.cluster);
  const routes = generate(push, p, TYPE.route);
  checkEncodes(TYPE.cluster, clusters);
  if (type === 'grpc') assert.deepEqual(grpcClientErrors(TYPE.cluster, clusters), []);
  const rc = [...routes.values()][0] as Loose;
  const vh = (rc.virtual_hosts as Loose[]).find((v) =>
    (v.domains as string[]).some((d) => d.startsWith(HOST)),
  )!;
  return { clusters, routes: vh.routes as Loose[] };
}

const split: HTTPRoute[] = [
  {
    match: [{ headers: { 'x-trellis-lane': { exact: 'box-1' } } }],
    route: [{ destination: { host: 'reviews', subset: 'canary' } }],
  },
  {
    route: [
      { destination: { host: 'reviews', subset: 'stable' }, weight: 90 },
      { destination: { host: 'reviews', subset: 'canary' }, weight: 10 },
    ],
  },
];

test('trellis.io/fallback-subset: other subsets route to an aggregate of their cluster then the fallback', () => {
  const { clusters, routes } = generated({ 'trellis.io/fallback-subset': 'stable' }, split);
  // The lane route and the weighted canary both go through the aggregate; stable stays direct.
  assert.equal(routes[0]!.route.cluster, AGG);
  assert.deepEqual(
    (routes[1]!.route.weighted_clusters.clusters as Loose[]).map((c): unknown => c.name),
    [`outbound|9080|stable|${HOST}`, AGG],
  );
  const agg = clusters.get(AGG) as Loose;
  assert.ok(agg, `an aggregate among ${[...clusters.keys()].join(', ')}`);
  assert.equal(agg.lb_policy, 'CLUSTER_PROVIDED');
  const type = agg.cluster_type;
  assert.equal(type.name, 'envoy.clusters.aggregate');
  assert.deepEqual(unpackAny<Loose>(type.typed_config as never).clusters, [
    `outbound|9080|canary|${HOST}`,
    `outbound|9080|stable|${HOST}`,
  ]);
  // The canary cluster's circuit breakers (and its retry budget) are the aggregate's.
  assert.deepEqual(
    agg.circuit_breakers,
    (clusters.get(`outbound|9080|canary|${HOST}`) as Loose).circuit_breakers,
  );
});

test('no annotation: no aggregates and routes name the subsets directly', () => {
  const { clusters, routes } = generated(undefined, split);
  assert.equal(routes[0]!.route.cluster, `outbound|9080|canary|${HOST}`);
  assert.ok(![...clusters.keys()].some((n) => n.includes('~fallback~')));
});

test('proxyless gRPC gets the aggregate too, and grpc-js-xds accepts it (gRFC A37)', () => {
  const { clusters, routes } = generated({ 'trellis.io/fallback-subset': 'stable' }, split, 'grpc');
  assert.ok(clusters.has(AGG));
  assert.equal(routes[0]!.route.cluster, AGG);
});
