/**
 * A push whose listeners name a route configuration it does not have is a translation bug: the
 * proxy is not sent it and keeps being served its last consistent push, the error is logged with
 * the proxy and the names, and counted (consistency.ts). Delta pushes are checked against the
 * proxy's whole view, not only what changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../core/testing/eventually.js';
import * as grpc from '@grpc/grpc-js';
import { memoryLogger } from '../../core/logger.js';
import { adsService } from '../../protocol/grpc-services.js';
import { TYPE, packAny, unpackAny, type ResourceTypeUrl } from '../../protocol/protos.js';
import { AdsServer, type Translator } from './ads-server.js';

/** Listener name -> the route configuration it names; the route configurations generated. */
interface FakePush {
  version: string;
  listeners: Record<string, string>;
  routes: string[];
}

const listener = (name: string, route: string) => ({
  name,
  address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: packAny(TYPE.hcm, {
            stat_prefix: name,
            rds: { config_source: { ads: {} }, route_config_name: route },
          }),
        },
      ],
    },
  ],
});

const translator: Translator<FakePush> = {
  generate(push, _proxy, typeUrl, names) {
    const out = new Map<string, object>();
    if (typeUrl === TYPE.listener)
      for (const [name, route] of Object.entries(push.listeners)) out.set(name, listener(name, route));
    if (typeUrl === TYPE.route)
      for (const r of push.routes) if (!names?.length || names.includes(r)) out.set(r, { name: r });
    return out;
  },
  affectedTypes(prev, next) {
    const t = new Set<ResourceTypeUrl>();
    if (JSON.stringify(prev.listeners) !== JSON.stringify(next.listeners)) t.add(TYPE.listener);
    if (JSON.stringify(prev.routes) !== JSON.stringify(next.routes)) t.add(TYPE.route);
    return t;
  },
};

interface Response {
  version_info?: string;
  system_version_info?: string;
  nonce: string;
  type_url: string;
  resources?: (
    { type_url: string; value: Buffer } | { name: string; resource: { type_url: string; value: Buffer } }
  )[];
}

const Client = grpc.makeGenericClientConstructor(adsService(), 'AggregatedDiscoveryService');
const node = { id: 'sidecar~127.0.0.1~app-1.default~default.svc.cluster.local' };

async function start(initial: FakePush) {
  const { logger, lines } = memoryLogger();
  const server = new AdsServer<FakePush>({ translator, initial, logger, concurrency: 2 });
  const port = await server.listen('127.0.0.1', 0);
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
    DeltaAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
  };
  return { server, client, lines };
}

function inbox(stream: grpc.ClientDuplexStream<object, Response>) {
  const queue: Response[] = [];
  const waiters: ((r: Response) => void)[] = [];
  stream.on('data', (r: Response) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  stream.on('error', () => undefined);
  return {
    next: (timeoutMs = 3000) =>
      new Promise<Response>((resolve, reject) => {
        const r = queue.shift();
        if (r) return resolve(r);
        const t = setTimeout(() => reject(new Error('no response within timeout')), timeoutMs);
        waiters.push((x) => {
          clearTimeout(t);
          resolve(x);
        });
      }),
  };
}

const inconsistentCount = (server: AdsServer<FakePush>) =>
  /^trellis_xds_inconsistent_pushes_total (\d+)$/m.exec(server.metrics.render())?.[1];

const sotwNames = (r: Response) =>
  (r.resources ?? []).map((x) => unpackAny<{ name: string }>(x as { type_url: string; value: Buffer }).name);

test('SotW: a listener naming a missing route config is not sent; the proxy keeps its last consistent push', async () => {
  const { server, client, lines } = await start({ version: 'v1', listeners: { l80: '80' }, routes: ['80'] });
  const stream = client.StreamAggregatedResources();
  const box = inbox(stream);
  try {
    stream.write({ node, type_url: TYPE.listener });
    const lds = await box.next();
    assert.deepEqual(sotwNames(lds), ['l80']);
    stream.write({ node, type_url: TYPE.listener, version_info: 'v1', response_nonce: lds.nonce });
    stream.write({ node, type_url: TYPE.route, resource_names: ['80'] });
    const rds = await box.next();
    stream.write({
      node,
      type_url: TYPE.route,
      resource_names: ['80'],
      version_info: 'v1',
      response_nonce: rds.nonce,
    });
    assert.equal(inconsistentCount(server), '0');

    server.update({ version: 'v2', listeners: { l80: '80', l81: '81' }, routes: ['80'] });
    await eventually(() => inconsistentCount(server) === '1', 'the inconsistent push to be counted');
    assert.ok(
      lines.some(
        (l) => l.includes('inconsistent') && l.includes(node.id) && l.includes('unresolvedRoutes=81'),
      ),
      lines.join(''),
    );
    // A new subscription meanwhile is answered from the last consistent push.
    stream.write({
      node,
      type_url: TYPE.route,
      resource_names: ['80', '90'],
      version_info: 'v1',
      response_nonce: rds.nonce,
    });
    const meanwhile = await box.next();
    assert.equal(meanwhile.type_url, TYPE.route);
    assert.equal(meanwhile.version_info, 'v1');
    assert.equal(server.status()[0]?.types.LDS?.lastSentVersion, 'v1');

    // The fix changes only RDS, but the proxy still holds v1's listeners: both are sent.
    server.update({ version: 'v3', listeners: { l80: '80', l81: '81' }, routes: ['80', '81'] });
    const fixed = await box.next();
    assert.equal(fixed.type_url, TYPE.listener);
    assert.equal(fixed.version_info, 'v3');
    assert.deepEqual(sotwNames(fixed), ['l80', 'l81']);
    assert.equal(inconsistentCount(server), '1');
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});

test('delta: a listener-only push is checked against every route config of the proxy, not only what changed', async () => {
  const { server, client } = await start({ version: 'v1', listeners: { l80: '80' }, routes: ['80', '81'] });
  const stream = client.DeltaAggregatedResources();
  const box = inbox(stream);
  const names = (r: Response) => (r.resources ?? []).map((x) => (x as { name: string }).name);
  try {
    stream.write({ node, type_url: TYPE.listener });
    const first = await box.next();
    stream.write({ node, type_url: TYPE.listener, response_nonce: first.nonce });
    stream.write({ node, type_url: TYPE.route, resource_names_subscribe: ['80'] });
    const rds = await box.next();
    stream.write({ node, type_url: TYPE.route, response_nonce: rds.nonce });

    // Only the listener changes; the route it now names was never sent, but the push has it.
    server.update({ version: 'v2', listeners: { l80: '81' }, routes: ['80', '81'] });
    const moved = await box.next();
    assert.equal(moved.type_url, TYPE.listener);
    assert.equal(moved.system_version_info, 'v2');
    assert.deepEqual(names(moved), ['l80']);
    stream.write({ node, type_url: TYPE.listener, response_nonce: moved.nonce });

    // A listener-only push naming a route the push lacks: held back and counted.
    server.update({ version: 'v3', listeners: { l80: '99' }, routes: ['80', '81'] });
    await eventually(() => inconsistentCount(server) === '1', 'the inconsistent push to be counted');
    server.update({ version: 'v4', listeners: { l80: '99' }, routes: ['80', '81', '99'] });
    const fixed = await box.next();
    assert.equal(fixed.type_url, TYPE.listener);
    assert.equal(fixed.system_version_info, 'v4');
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});
