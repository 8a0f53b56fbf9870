// Which nodes are proxyless gRPC clients: Istio's metadata when present, else what the client
// is (its user agent) and what it asks first (LDS by `host:port`). Envoy, the Trellis proxy and
// nodes that say what they are never turn into gRPC clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  grpcEvidence,
  isClientListenerName,
  proxyTypeOf,
  type FirstRequest,
  type NodeSignals,
} from './grpc-client.js';
import { jsonToStruct, parseNode } from './node.js';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const bare: NodeSignals = {
  idType: undefined,
  generator: undefined,
  router: undefined,
  userAgentName: undefined,
};
const lds = (...names: string[]): FirstRequest => ({ typeUrl: LDS, names });

const ROWS: [string, Partial<NodeSignals>, FirstRequest | undefined, string | undefined][] = [
  ['GENERATOR grpc', { generator: 'grpc' }, undefined, 'metadata'],
  ['Istio id of type grpc', { idType: 'grpc' }, undefined, 'metadata'],
  ['gRPC Go user agent', { userAgentName: 'gRPC Go' }, undefined, 'user-agent'],
  ['gRPC Java user agent', { userAgentName: 'gRPC Java' }, lds('a:1'), 'user-agent'],
  ['grpc-js user agent', { userAgentName: 'gRPC Node Pure JS' }, undefined, 'user-agent'],
  ['C-core user agent, lower case', { userAgentName: 'grpc c-core' }, undefined, 'user-agent'],
  [
    'a gRPC user agent on an Istio sidecar id',
    { idType: 'sidecar', userAgentName: 'gRPC Go' },
    undefined,
    'user-agent',
  ],
  ['LDS by host:port, no user agent', {}, lds('reviews.default.svc.cluster.local:9080'), 'listener-names'],
  ['LDS by short host and IPv6', {}, lds('reviews:9080', '[::1]:50051'), 'listener-names'],
  [
    'LDS by the server listener template',
    {},
    lds('xds.istio.io/grpc/lds/inbound/0.0.0.0:8080'),
    'listener-names',
  ],
  // Not gRPC:
  ['Envoy: wildcard LDS', { userAgentName: 'envoy' }, lds(), undefined],
  ['Envoy: CDS first', { userAgentName: 'envoy' }, { typeUrl: CDS, names: [] }, undefined],
  ['the Trellis proxy', { userAgentName: 'trellis-proxy' }, { typeUrl: CDS, names: [] }, undefined],
  ['a bare node asking LDS by Envoy-style names', {}, lds('0.0.0.0_15001', 'virtualInbound'), undefined],
  ['one name that is not host:port', {}, lds('a:1', 'virtualOutbound'), undefined],
  ['a port out of range', {}, lds('a:70000'), undefined],
  [
    'a gRPC user agent but GENERATOR says otherwise',
    { generator: 'api', userAgentName: 'gRPC Go' },
    undefined,
    undefined,
  ],
  ['a gRPC user agent on a router id', { idType: 'router', userAgentName: 'gRPC Go' }, lds('a:1'), undefined],
  [
    'a gRPC user agent with ROUTER metadata',
    { router: true, userAgentName: 'gRPC Go' },
    undefined,
    undefined,
  ],
  ['a user agent that only contains grpc', { userAgentName: 'my-grpc-gateway' }, undefined, undefined],
  ['nothing at all', {}, undefined, undefined],
  ['host:port names, but for clusters', {}, { typeUrl: CDS, names: ['a:1'] }, undefined],
];

for (const [name, node, first, want] of ROWS) {
  test(`grpc client evidence: ${name}`, () => {
    assert.equal(grpcEvidence({ ...bare, ...node }, first), want);
  });
}

test('isClientListenerName takes host:port only', () => {
  const yes = ['a:1', 'a.b.c:65535', '10.0.0.1:80', '[2001:db8::1]:443', 'svc_x:8080'];
  const no = ['a', 'a:', ':80', 'a:0', 'a:65536', 'a:b', 'http://a:80', 'a:80/x', 'a b:80'];
  for (const n of yes) assert.equal(isClientListenerName(n), true, n);
  for (const n of no) assert.equal(isClientListenerName(n), false, n);
});

test('parseNode: a plain bootstrap node (id and locality) with a gRPC user agent is a grpc proxy in default', () => {
  const p = parseNode(
    {
      id: 'plain-client',
      locality: { region: 'eu', zone: 'eu-1a' },
      user_agent_name: 'gRPC Go',
      client_features: ['envoy.lb.does_not_support_overprovisioning'],
    },
    lds('reviews:9080'),
  );
  assert.equal(p.type, 'grpc');
  assert.equal(p.namespace, 'default');
  assert.equal(p.locality, 'eu/eu-1a');
  assert.equal(p.workloadName, 'plain-client');
});

test('parseNode: Envoy with the same client features stays a sidecar; Istio metadata still decides', () => {
  assert.equal(
    parseNode(
      { id: 'x', user_agent_name: 'envoy', client_features: ['envoy.lb.does_not_support_overprovisioning'] },
      lds(),
    ).type,
    'sidecar',
  );
  assert.equal(
    parseNode({ id: 'router~1.2.3.4~gw.ns~ns.svc.cluster.local', user_agent_name: 'envoy' }).type,
    'router',
  );
  assert.equal(parseNode({ id: 'c', metadata: jsonToStruct({ GENERATOR: 'grpc' }) }).type, 'grpc');
});

test('proxyTypeOf: grpc with evidence, router by id or ROUTER metadata, else sidecar', () => {
  assert.equal(proxyTypeOf({ ...bare, userAgentName: 'gRPC Go' }, undefined), 'grpc');
  assert.equal(proxyTypeOf({ ...bare, router: true }, undefined), 'router');
  assert.equal(proxyTypeOf({ ...bare, idType: 'router' }, undefined), 'router');
  assert.equal(proxyTypeOf({ ...bare, router: 'yes' }, undefined), 'sidecar');
  assert.equal(proxyTypeOf(bare, lds()), 'sidecar');
});
