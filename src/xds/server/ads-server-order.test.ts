/**
 * Make-before-break pushes (issue #10 finding 7): within one push a proxy gets clusters, then
 * endpoints, then listeners, then routes, so a route never names a cluster it has not been sent;
 * and a cluster that leaves is removed only after the routes that stop naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../protocol/grpc-services.js';
import { SHORT_TYPE, TYPE, unpackAny, type ResourceTypeUrl } from '../../protocol/protos.js';
import { eventually } from '../../core/testing/eventually.js';
import { AdsServer, type Translator } from './ads-server.js';

/** Clusters with their endpoint address, and the cluster the one route sends to. */
interface FakePush {
  version: string;
  clusters: Record<string, string>;
  route: string;
}

const translator: Translator<FakePush> = {
  generate(push, _proxy, typeUrl) {
    const out = new Map<string, object>();
    if (typeUrl === TYPE.cluster)
      for (const c of Object.keys(push.clusters))
        out.set(c, { name: c, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
    if (typeUrl === TYPE.endpoint)
      for (const [c, addr] of Object.entries(push.clusters))
        out.set(c, {
          cluster_name: c,
          endpoints: [
            {
              load_balancing_weight: { value: 1 },
              lb_endpoints: [
                { endpoint: { address: { socket_address: { address: addr, port_value: 80 } } } },
              ],
            },
          ],
        });
    if (typeUrl === TYPE.listener)
      out.set('0.0.0.0_80', {
        name: '0.0.0.0_80',
        address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
        stat_prefix: push.route,
      });
    if (typeUrl === TYPE.route)
      out.set('80', {
        name: '80',
        virtual_hosts: [
          { name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: push.route } }] },
        ],
      });
    return out;
  },
  affectedTypes: () => new Set<ResourceTypeUrl>([TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]),
};

interface Response {
  nonce: string;
  type_url: string;
  version_info?: string;
  /** Absent when empty (proto3 decoding without defaults), as in a delta removal. */
  resources?: ({ type_url: string; value: Buffer } | { name: string })[];
  removed_resources?: string[];
}

const Client = grpc.makeGenericClientConstructor(adsService(), 'AggregatedDiscoveryService');
const node = { id: 'sidecar~127.0.0.1~app-1.default~default.svc.cluster.local' };

/**
 * A client that ACKs every response at once (as a proxy does) and records the order of types.
 * It subscribes to EDS for every cluster it was sent, and to route "80".
 */
async function connect(mode: 'sotw' | 'delta', initial: FakePush) {
  const server = new AdsServer<FakePush>({ translator, initial, concurrency: 4 });
  const port = await server.listen('127.0.0.1', 0);
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
    DeltaAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
  };
  const stream = mode === 'sotw' ? client.StreamAggregatedResources() : client.DeltaAggregatedResources();
  const log: { type: string; names: string[]; removed: string[] }[] = [];
  const clusters = new Set<string>();
  let edsNames: string[] = [];
  stream.on('data', (r: Response) => {
    const type = SHORT_TYPE[r.type_url as ResourceTypeUrl];
    const resources = r.resources ?? [];
    const names =
      mode === 'sotw'
        ? resources.map((x) => {
            const m = unpackAny<{ name?: string; cluster_name?: string }>(x as never);
            return m.name ?? m.cluster_name ?? '';
          })
        : resources.map((x) => (x as { name: string }).name);
    log.push({ type, names, removed: r.removed_resources ?? [] });
    if (r.type_url === TYPE.cluster) {
      if (mode === 'sotw') clusters.clear();
      for (const n of names) clusters.add(n);
      for (const n of r.removed_resources ?? []) clusters.delete(n);
    }
    if (mode === 'sotw') {
      stream.write({
        node,
        type_url: r.type_url,
        version_info: r.version_info,
        response_nonce: r.nonce,
        resource_names: r.type_url === TYPE.endpoint ? edsNames : r.type_url === TYPE.route ? ['80'] : [],
      });
    } else {
      stream.write({ node, type_url: r.type_url, response_nonce: r.nonce });
    }
    if (r.type_url === TYPE.cluster) {
      const wanted = [...clusters].sort();
      if (wanted.join() !== edsNames.join()) {
        const prev = edsNames;
        edsNames = wanted;
        if (mode === 'sotw') stream.write({ node, type_url: TYPE.endpoint, resource_names: wanted });
        else
          stream.write({
            node,
            type_url: TYPE.endpoint,
            resource_names_subscribe: wanted.filter((n) => !prev.includes(n)),
            resource_names_unsubscribe: prev.filter((n) => !wanted.includes(n)),
          });
      }
    }
  });
  stream.on('error', () => undefined);
  stream.write({ node, type_url: TYPE.cluster });
  stream.write({ node, type_url: TYPE.listener });
  stream.write({
    node,
    type_url: TYPE.route,
    ...(mode === 'sotw' ? { resource_names: ['80'] } : { resource_names_subscribe: ['80'] }),
  });
  return {
    server,
    log,
    /** Waits for the initial config: every type, and endpoints for every initial cluster. */
    async synced(): Promise<void> {
      await eventually(
        () =>
          ['CDS', 'LDS', 'RDS'].every((t) => log.some((e) => e.type === t)) &&
          Object.keys(initial.clusters).every((c) =>
            log.some((e) => e.type === 'EDS' && e.names.includes(c)),
          ),
        { what: 'the initial config', context: () => `; received ${JSON.stringify(log)}` },
      );
    },
    async close(): Promise<void> {
      stream.end();
      client.close();
      await server.close();
    },
  };
}

for (const mode of ['sotw', 'delta'] as const) {
  test(`${mode}: a push that adds a cluster and routes to it sends CDS, EDS, LDS, RDS in that order`, async () => {
    const c = await connect(mode, { version: 'v1', clusters: { v1: '10.0.0.1' }, route: 'v1' });
    try {
      await c.synced();
      const from = c.log.length;
      c.server.update({ version: 'v2', clusters: { v1: '10.0.0.9', v2: '10.0.0.2' }, route: 'v2' });
      // The log only grows: once it holds four pushes and v2's endpoints, the first four are final.
      await eventually(
        () =>
          c.log.length - from >= 4 &&
          c.log.slice(from).some((e) => e.type === 'EDS' && e.names.includes('v2')),
        'the push and v2 endpoints',
      );
      const order = c.log.slice(from).map((e) => e.type);
      // The client's EDS subscription for v2 follows the CDS response; it may add one more EDS.
      assert.deepEqual(order.slice(0, 4), ['CDS', 'EDS', 'LDS', 'RDS'], order.join(' '));
      assert.ok(
        c.log.slice(from).some((e) => e.type === 'EDS' && e.names.includes('v2')),
        'v2 endpoints sent',
      );
    } finally {
      await c.close();
    }
  });

  test(`${mode}: a cluster that leaves is removed only after the routes stop naming it`, async () => {
    const c = await connect(mode, {
      version: 'v1',
      clusters: { v1: '10.0.0.1', v2: '10.0.0.2' },
      route: 'v2',
    });
    try {
      await c.synced();
      const from = c.log.length;
      c.server.update({ version: 'v2', clusters: { v1: '10.0.0.1' }, route: 'v1' });
      const removes = (e: { type: string; names: string[]; removed: string[] }) =>
        e.type === 'CDS' && (mode === 'sotw' ? !e.names.includes('v2') : e.removed.includes('v2'));
      // Anything sent out of order is in the log before both of these arrive.
      await eventually(
        () => c.log.slice(from).some((e) => e.type === 'RDS') && c.log.slice(from).some(removes),
        'the RDS push and the CDS removal of v2',
      );
      const pushed = c.log.slice(from);
      const order = pushed.map((e) => e.type).join(' ');
      const rds = pushed.findIndex((e) => e.type === 'RDS');
      const removal = pushed.findIndex(removes);
      assert.ok(rds >= 0 && removal >= 0, JSON.stringify(pushed));
      assert.ok(rds < removal, `RDS before the CDS that removes v2: ${order}`);
      // Delta can remove endpoints too: that must not empty v2 while the route still uses it.
      const edsRemoval = pushed.findIndex((e) => e.type === 'EDS' && e.removed.includes('v2'));
      assert.ok(edsRemoval === -1 || edsRemoval > rds, `RDS before the EDS that removes v2: ${order}`);
    } finally {
      await c.close();
    }
  });
}
