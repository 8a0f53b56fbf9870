import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../protocol/protos.js';
import { jsonToStruct, parseNode, type NodeMessage } from './node.js';

test('parses Istio-style node ids and metadata', () => {
  const p = parseNode({
    id: 'sidecar~10.0.0.7~reviews-v1-abc.prod~prod.svc.cluster.local',
    cluster: 'reviews.prod',
    metadata: jsonToStruct({ LABELS: { app: 'reviews', version: 'v1' }, WORKLOAD_NAME: 'reviews-v1' }),
    locality: { region: 'us', zone: 'a' },
  });
  assert.equal(p.type, 'sidecar');
  assert.equal(p.namespace, 'prod');
  assert.deepEqual(p.labels, { app: 'reviews', version: 'v1' });
  assert.equal(p.workloadName, 'reviews-v1');
  assert.deepEqual(p.ipAddresses, ['10.0.0.7']);
  assert.equal(p.locality, 'us/a');
});

test('recognises gateways and proxyless gRPC; labels as text; defaults', () => {
  assert.equal(
    parseNode({ id: 'router~1.2.3.4~gw.istio-system~istio-system.svc.cluster.local' }).type,
    'router',
  );
  const g = parseNode({
    id: 'client-1',
    metadata: jsonToStruct({ GENERATOR: 'grpc', LABELS: 'app=web, version=v2', NAMESPACE: 'shop' }),
  });
  assert.equal(g.type, 'grpc');
  assert.equal(g.namespace, 'shop');
  assert.deepEqual(g.labels, { app: 'web', version: 'v2' });
  const bare = parseNode({ id: 'x' });
  assert.equal(bare.namespace, 'default');
  assert.equal(bare.type, 'sidecar');
  assert.equal(bare.workloadName, 'x');
});

test('node metadata survives the wire: nested structs, lists, numbers and booleans', () => {
  const metadata = {
    LABELS: { app: 'reviews', version: 'v2' },
    INSTANCE_IPS: '10.0.0.7',
    PORTS: [9080, 15090],
    ROUTER: false,
  };
  const bytes = encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', {
    node: {
      id: 'sidecar~10.0.0.7~reviews-v2.default~default.svc.cluster.local',
      metadata: jsonToStruct(metadata),
    },
  });
  const decoded = decodeMessage<{ node: NodeMessage }>('envoy.service.discovery.v3.DiscoveryRequest', bytes);
  const p = parseNode(decoded.node);
  assert.deepEqual(p.labels, { app: 'reviews', version: 'v2' });
  assert.deepEqual(p.metadata, metadata);
});
