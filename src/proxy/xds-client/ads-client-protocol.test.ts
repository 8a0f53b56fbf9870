/**
 * Choosing the wire protocol: `auto` tries delta xDS and falls back to state of the world when
 * the server answers UNIMPLEMENTED (FakeAds says so explicitly; a grpc-js server that only
 * registers StreamAggregatedResources says so by default), and keeps that choice for the
 * target; `delta` never falls back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../protocol/grpc-services.js';
import { FakeAds } from '../testing/fake-ads.js';
import { eventually } from '../../core/testing/eventually.js';
import { memoryLogger, request, startBackend, startMesh, startProxy } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

test('auto falls back to state of the world against a server without delta, and keeps that choice', async (t) => {
  const backend = await startBackend('reviews');
  const resources = {
    CDS: [edsCluster(C)],
    EDS: [endpoints(C, [{ port: backend.port }])],
    LDS: [httpListener(9080)],
    RDS: [routeConfig('9080', [virtualHost('reviews', ['reviews:9080'], [routeTo(C)])])],
  };
  const mesh = await startMesh(resources, {}, FakeAds);
  const restarted: { ads?: FakeAds } = {};
  t.after(async () => {
    await mesh.proxy.stop(100);
    await restarted.ads?.close();
    await backend.close();
  });
  assert.equal((await request(mesh.port, { host: 'reviews:9080' })).status, 200);
  assert.equal(mesh.proxy.ads.stats.protocol, 'sotw');
  assert.equal(mesh.proxy.ads.stats.fallbacks, 1);
  assert.equal(mesh.proxy.ads.stats.nacks, 0);

  // The same target again: straight to state of the world, no second delta attempt.
  const port = Number(mesh.ads.address.split(':')[1]);
  await mesh.ads.close();
  const second = await FakeAds.start(port);
  restarted.ads = second;
  for (const [type, list] of Object.entries(resources)) second.set(type as keyof typeof resources, list);
  await second.waitForAck('RDS');
  assert.equal(mesh.proxy.ads.stats.fallbacks, 1);
  assert.equal(mesh.proxy.ads.stats.protocol, 'sotw');
  assert.ok(mesh.proxy.ads.stats.connects >= 2);
});

/** A server with only StreamAggregatedResources: grpc-js answers the delta method UNIMPLEMENTED. */
async function sotwOnlyServer(): Promise<{ address: string; requests: string[]; close(): void }> {
  const server = new grpc.Server();
  const requests: string[] = [];
  server.addService(adsService(), {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<{ type_url?: string }, object>) => {
      call.on('data', (req: { type_url?: string }) => requests.push(req.type_url ?? ''));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, requests, close: () => server.forceShutdown() };
}

test('a server that does not register the delta method gets state of the world; forced delta does not fall back', async (t) => {
  const server = await sotwOnlyServer();
  const target = { address: server.address } as FakeAds;
  const auto = await startProxy(target);
  t.after(async () => {
    await auto.stop(0);
    server.close();
  });
  await eventually(() => server.requests.length > 0, 'a state-of-the-world request');
  assert.equal(server.requests[0], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(auto.ads.stats.protocol, 'sotw');
  await auto.stop(0);

  const seen = server.requests.length;
  const { logger, lines } = memoryLogger('proxy');
  const forced = await startProxy(target, { xdsProtocol: 'delta', logger });
  t.after(async () => await forced.stop(0));
  // Two delta attempts refused in a row: had the first fallen back, the state-of-the-world
  // stream would have stayed open and there would be no second.
  await eventually(
    () => lines.filter((l) => l.includes('control plane stream closed') && l.includes('delta')).length >= 2,
    'two refused delta attempts',
  );
  assert.equal(forced.ads.stats.protocol, 'delta');
  assert.equal(forced.ads.stats.fallbacks, 0);
  assert.equal(forced.ads.stats.connects, 0);
  assert.equal(server.requests.length, seen, 'no state-of-the-world request from the forced-delta proxy');
});
