import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import { encodeDiscoveryResponse, encodeResourceList } from './wire.js';

test('hand-encoded DiscoveryResponse decodes with protobufjs to the same message', () => {
  const clusters = Array.from({ length: 300 }, (_, i) => ({
    name: `outbound|9080|v${i % 3}|svc-${i}.default.svc.cluster.local`,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: `svc-${i}`.repeat(i % 7) },
  }));
  const encoded = clusters.map((c) => encodeMessage(TYPE.cluster, c));
  const list = encodeResourceList(TYPE.cluster, encoded);
  const bytes = encodeDiscoveryResponse(list, TYPE.cluster, '42.7', '1234567');
  const decoded = decodeMessage<{
    version_info: string;
    type_url: string;
    nonce: string;
    resources: AnyMessage[];
  }>('envoy.service.discovery.v3.DiscoveryResponse', bytes);
  assert.equal(decoded.version_info, '42.7');
  assert.equal(decoded.type_url, TYPE.cluster);
  assert.equal(decoded.nonce, '1234567');
  assert.equal(decoded.resources.length, 300);
  assert.deepEqual(
    decoded.resources.map((r) => unpackAny<{ name: string }>(r).name),
    clusters.map((c) => c.name),
  );
  assert.equal(decoded.resources[0]?.type_url, TYPE.cluster);
});

test('an empty response and a large resource (multi-byte lengths) round-trip', () => {
  const empty = encodeDiscoveryResponse(encodeResourceList(TYPE.route, []), TYPE.route, '', '1');
  const d = decodeMessage<{ resources?: unknown[]; nonce: string }>(
    'envoy.service.discovery.v3.DiscoveryResponse',
    empty,
  );
  assert.equal(d.resources?.length ?? 0, 0);
  assert.equal(d.nonce, '1');
  const big = encodeMessage(TYPE.route, {
    name: '9080',
    virtual_hosts: Array.from({ length: 2000 }, (_, i) => ({
      name: `h${i}:9080`,
      domains: [`h${i}`, `h${i}:9080`],
    })),
  });
  assert.ok(big.length > 16_384, `${big.length} bytes: needs a 3-byte length`);
  const r = decodeMessage<{ resources: AnyMessage[] }>(
    'envoy.service.discovery.v3.DiscoveryResponse',
    encodeDiscoveryResponse(encodeResourceList(TYPE.route, [big]), TYPE.route, 'v', 'n'),
  );
  assert.equal(unpackAny<{ virtual_hosts: unknown[] }>(r.resources[0]!).virtual_hosts.length, 2000);
});
