// The clusters Istio adds on its own: a sidecar's inbound cluster to its workload, the
// PassthroughCluster and the BlackHoleCluster (pilot/pkg/networking/core/cluster_builder.go).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unpackAny, type AnyMessage } from '../../protocol/protos.js';
import { buildBlackHoleCluster, buildInboundCluster, buildPassthroughCluster } from './cluster.js';
import type { Loose as Json } from './testkit.js';

test('an inbound cluster sends to the workload on 127.0.0.1 at the target port, round robin', () => {
  const c = buildInboundCluster(9080, 8080, false) as Json;
  assert.equal(c.name, 'inbound|9080||');
  assert.equal(c.type, 'STATIC');
  assert.equal(c.lb_policy, 'ROUND_ROBIN');
  assert.deepEqual(c.load_assignment, {
    cluster_name: 'inbound|9080||',
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } },
        ],
      },
    ],
  });
  assert.equal(c.typed_extension_protocol_options, undefined);
  assert.ok(c.circuit_breakers);
});

test('an inbound cluster for an HTTP/2 port speaks HTTP/2 to the workload', () => {
  const c = buildInboundCluster(9090, 9090, true) as Json;
  const any = (c.typed_extension_protocol_options as Record<string, AnyMessage>)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ]!;
  assert.ok('http2_protocol_options' in unpackAny<Json>(any).explicit_http_config);
});

test('the BlackHoleCluster has no endpoints and, unlike the PassthroughCluster, no circuit breakers', () => {
  const b = buildBlackHoleCluster() as Json;
  assert.equal(b.name, 'BlackHoleCluster');
  assert.equal(b.type, 'STATIC');
  assert.deepEqual(b.load_assignment, { cluster_name: 'BlackHoleCluster', endpoints: [] });
  assert.equal(b.circuit_breakers, undefined);
  const p = buildPassthroughCluster() as Json;
  assert.equal(p.name, 'PassthroughCluster');
  assert.equal(p.type, 'ORIGINAL_DST');
  assert.ok(p.circuit_breakers);
});
