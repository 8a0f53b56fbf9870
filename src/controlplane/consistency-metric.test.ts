/**
 * A translation bug that leaves a listener naming a route configuration the push lacks reaches
 * no proxy: the control plane logs it with the proxy and the names and counts it on /metrics.
 * The bug is injected through ControlPlaneOptions.translator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../core/testing/eventually.js';
import * as grpc from '@grpc/grpc-js';
import { parseAndValidate } from '../api/parse.js';
import type { Resource } from '../api/resource.js';
import { memoryLogger } from '../core/logger.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import { adsService } from '../protocol/grpc-services.js';
import { TYPE } from '../protocol/protos.js';
import { affectedTypes, generate } from '../xds/translate/index.js';
import { ControlPlane } from './control-plane.js';

function resources(yaml: string): Resource[] {
  return parseAndValidate(yaml, 'test.yaml').map((d) => {
    assert.ok(d.resource, JSON.stringify(d.problems));
    return d.resource;
  });
}

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1 }]
`;
const ROUTE = (timeout: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{ timeout: ${timeout}, route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]
`;

const Client = grpc.makeGenericClientConstructor(adsService(), 'AggregatedDiscoveryService');
const node = { id: 'sidecar~10.0.0.7~app-1.default~default.svc.cluster.local' };

test('an inconsistent push is held back, logged with the proxy and the names, and counted on /metrics', async () => {
  const store = new MemoryConfigStore();
  for (const r of resources(SERVICE + '---\n' + ROUTE('5s'))) store.apply(r);
  let dropRoutes = false;
  const { logger, lines } = memoryLogger();
  const cp = new ControlPlane({
    config: store,
    logger,
    debounce: { quietMs: 1, maxMs: 10 },
    translator: {
      affectedTypes,
      generate: (push, proxy, typeUrl, names) =>
        dropRoutes && typeUrl === TYPE.route ? new Map() : generate(push, proxy, typeUrl, names),
    },
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const client = new Client(
    `127.0.0.1:${bound.xds.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<object, { nonce: string; version_info: string }>;
  };
  const stream = client.StreamAggregatedResources();
  stream.on('error', () => undefined);
  const metric = async () => {
    const text = await (await fetch(`http://127.0.0.1:${bound.http.port}/metrics`)).text();
    return /^trellis_xds_inconsistent_pushes_total (\d+)$/m.exec(text)?.[1];
  };
  try {
    const first = new Promise<{ nonce: string; version_info: string }>((resolve) =>
      stream.once('data', resolve),
    );
    stream.write({ node, type_url: TYPE.listener });
    stream.write({ node, type_url: TYPE.route, resource_names: ['9080'] });
    await first;
    assert.equal(await metric(), '0');

    dropRoutes = true;
    for (const r of resources(ROUTE('7s'))) store.apply(r);
    await eventually(async () => (await metric()) === '1', 'the held-back push on /metrics');
    const error = lines.find((l) => l.includes('inconsistent'));
    assert.ok(error?.includes(node.id), lines.join(''));
    assert.ok(error?.includes('unresolvedRoutes=9080'), error);
  } finally {
    stream.end();
    client.close();
    await cp.stop();
  }
});
