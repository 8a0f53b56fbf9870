import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DestinationRuleSpec } from '../../api/networking/types.js';
import type { Endpoint } from '../../registry/types.js';
import { TYPE } from '../../protocol/protos.js';
import { localityPatternMatches } from './endpoints.js';
import { buildPushContext, generate } from './index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  grpcClientErrors,
  proxy,
  registry,
  res,
  service,
} from './testkit.js';

const HOST = 'echo.default.svc.cluster.local';

interface Locality {
  locality: Record<string, string>;
  load_balancing_weight: { value: number };
  priority?: number;
  lb_endpoints: {
    endpoint: { address: { socket_address: { address: string; port_value: number } } };
    health_status: string;
    load_balancing_weight: { value: number };
  }[];
}

function assignment(
  eps: Endpoint[],
  rule?: DestinationRuleSpec,
  cluster = `outbound|50051||${HOST}`,
  proxyLocality = '',
) {
  const cfg = config(rule ? [res('DestinationRule', 'default', 'echo', rule)] : []);
  const push = buildPushContext(cfg, registry([service(HOST, [grpc(50051, 'grpc')])], eps));
  const out = generate(push, proxy({ type: 'grpc', locality: proxyLocality }), TYPE.endpoint, [cluster]);
  checkEncodes(TYPE.endpoint, out);
  assert.deepEqual(grpcClientErrors(TYPE.endpoint, out), []);
  const cla = out.get(cluster) as { cluster_name: string; endpoints: Locality[] } | undefined;
  assert.ok(cla);
  return cla;
}

test('endpoints are grouped by locality, every locality weighted by the sum of its endpoints', () => {
  const cla = assignment([
    endpoint(HOST, '10.0.0.1', { locality: 'r1/z1/s1', weight: 2 }),
    endpoint(HOST, '10.0.0.2', { locality: 'r1/z1/s1', weight: 3, healthy: false }),
    endpoint(HOST, '10.0.0.3', { locality: 'r2/z9', ports: { grpc: 9000 } }),
    endpoint(HOST, '10.0.0.4'),
  ]);
  assert.equal(cla.cluster_name, `outbound|50051||${HOST}`);
  const summary = cla.endpoints.map((l) => ({
    locality: l.locality,
    weight: l.load_balancing_weight.value,
    eps: l.lb_endpoints.map(
      (e) =>
        `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}/${e.health_status}/${e.load_balancing_weight.value}`,
    ),
  }));
  assert.deepEqual(summary, [
    { locality: {}, weight: 1, eps: ['10.0.0.4:50051/HEALTHY/1'] },
    {
      locality: { region: 'r1', zone: 'z1', sub_zone: 's1' },
      weight: 5,
      eps: ['10.0.0.1:50051/HEALTHY/2', '10.0.0.2:50051/UNHEALTHY/3'],
    },
    { locality: { region: 'r2', zone: 'z9' }, weight: 1, eps: ['10.0.0.3:9000/HEALTHY/1'] },
  ]);
});

test('a subset cluster holds only endpoints with the subset labels; duplicates are dropped', () => {
  const rule: DestinationRuleSpec = { host: HOST, subsets: [{ name: 'v2', labels: { version: 'v2' } }] };
  const cla = assignment(
    [
      endpoint(HOST, '10.0.0.1', { labels: { version: 'v1' } }),
      endpoint(HOST, '10.0.0.2', { labels: { version: 'v2' } }),
      endpoint(HOST, '10.0.0.2', { labels: { version: 'v2' } }),
    ],
    rule,
    `outbound|50051|v2|${HOST}`,
  );
  assert.deepEqual(
    cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)),
    ['10.0.0.2'],
  );
});

test('with outlier detection, localities fail over by proximity with contiguous priorities', () => {
  const rule: DestinationRuleSpec = {
    host: HOST,
    trafficPolicy: {
      outlierDetection: { consecutive5xxErrors: 5 },
      loadBalancer: { localityLbSetting: { failover: [{ from: 'r1', to: 'r3' }] } },
    },
  };
  const cla = assignment(
    [
      endpoint(HOST, '10.0.0.1', { locality: 'r1/z1/s1' }),
      endpoint(HOST, '10.0.0.2', { locality: 'r1/z2/s1' }),
      endpoint(HOST, '10.0.0.3', { locality: 'r2/z1/s1' }),
      endpoint(HOST, '10.0.0.4', { locality: 'r3/z1/s1' }),
    ],
    rule,
    undefined,
    'r1/z1/s1',
  );
  const prio = Object.fromEntries(
    cla.endpoints.map((l) => [l.locality.region + '/' + l.locality.zone, l.priority ?? 0]),
  );
  assert.deepEqual(prio, { 'r1/z1': 0, 'r1/z2': 1, 'r3/z1': 2, 'r2/z1': 3 });
});

test('without outlier detection every locality has priority 0', () => {
  const cla = assignment(
    [endpoint(HOST, '10.0.0.1', { locality: 'r1/z1' }), endpoint(HOST, '10.0.0.2', { locality: 'r2/z1' })],
    {
      host: HOST,
      trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: 'r1', to: 'r2' }] } } },
    },
    undefined,
    'r1/z1',
  );
  assert.deepEqual(
    cla.endpoints.map((l) => l.priority),
    [undefined, undefined],
  );
});

test('distribute sets locality weights for proxies in the from locality', () => {
  const rule: DestinationRuleSpec = {
    host: HOST,
    trafficPolicy: {
      loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 80, 'r2/*': 20 } }] } },
    },
  };
  const eps = [
    endpoint(HOST, '10.0.0.1', { locality: 'r1/z1' }),
    endpoint(HOST, '10.0.0.2', { locality: 'r1/z2', weight: 3 }),
    endpoint(HOST, '10.0.0.3', { locality: 'r2/z1' }),
    endpoint(HOST, '10.0.0.4', { locality: 'r3/z1' }),
  ];
  const cla = assignment(eps, rule, undefined, 'r1/z1');
  const weights = Object.fromEntries(
    cla.endpoints.map((l) => [`${l.locality.region}/${l.locality.zone}`, l.load_balancing_weight.value]),
  );
  assert.deepEqual(weights, { 'r1/z1': 2000, 'r1/z2': 6000, 'r2/z1': 2000 });
  // A proxy elsewhere keeps the endpoint weights.
  const other = assignment(eps, rule, undefined, 'r9/z1');
  assert.equal(other.endpoints.length, 4);
});

test('locality patterns', () => {
  const rows: [string, string, boolean][] = [
    ['r1/*', 'r1/z1/s1', true],
    ['r1/z1/*', 'r1/z2/s1', false],
    ['*', 'anything', true],
    ['r1/z1/s1', 'r1/z1/s1', true],
    ['r1', 'r1/z1', true],
    ['r2', 'r1/z1', false],
  ];
  for (const [pattern, locality, want] of rows)
    assert.equal(localityPatternMatches(pattern, locality), want, `${pattern} ~ ${locality}`);
});

test('EDS answers only clusters the proxy can see, and all of them when no names are given', () => {
  const push = buildPushContext(
    config([
      res('DestinationRule', 'default', 'echo', {
        host: 'echo',
        subsets: [{ name: 'a', labels: { v: 'a' } }],
      }),
    ]),
    registry([service(HOST, [grpc(50051, 'grpc')])], [endpoint(HOST, '10.0.0.1')]),
  );
  const all = generate(push, proxy(), TYPE.endpoint);
  assert.deepEqual([...all.keys()], [`outbound|50051||${HOST}`, `outbound|50051|a|${HOST}`]);
  const some = generate(push, proxy(), TYPE.endpoint, [
    `outbound|50051|zzz|${HOST}`,
    'outbound|1|x|nope',
    'garbage',
  ]);
  assert.equal(some.size, 0);
});

test("endpoints with a workload name carry Istio's istio.workload metadata, canonical names by Istio's fallbacks", () => {
  const cla = assignment([
    endpoint(HOST, '10.0.0.1', {
      workloadName: 'echo-v1',
      labels: { app: 'echo', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
    }),
    endpoint(HOST, '10.0.0.2', {
      workloadName: 'echo-v2',
      labels: {
        app: 'echo',
        'service.istio.io/canonical-name': 'echo-svc',
        'service.istio.io/canonical-revision': 'r2',
        'topology.istio.io/cluster': 'east',
      },
    }),
    endpoint(HOST, '10.0.0.3', { workloadName: 'bare' }),
    endpoint(HOST, '10.0.0.4'),
  ]);
  const md = cla.endpoints[0]!.lb_endpoints.map(
    (e) => (e as { metadata?: { filter_metadata: Record<string, unknown> } }).metadata?.filter_metadata,
  );
  assert.deepEqual(md, [
    {
      'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'istio' } } },
      istio: { fields: { workload: { stringValue: 'echo-v1;default;echo;v1;Kubernetes' } } },
    },
    {
      istio: {
        fields: {
          workload: { stringValue: 'echo-v2;default;echo-svc;r2;east' },
          app: { stringValue: 'echo' },
        },
      },
    },
    { istio: { fields: { workload: { stringValue: 'bare;default;bare;latest;Kubernetes' } } } },
    undefined,
  ]);
});
