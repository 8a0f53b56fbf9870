import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../protocol/grpc-services.js';
import { TYPE, unpackAny, type ResourceTypeUrl } from '../../protocol/protos.js';
import { eventually } from '../../core/testing/eventually.js';
import { AdsServer, type Translator } from './ads-server.js';

/** A push context for these tests: clusters and endpoints as plain data. */
interface FakePush {
  version: string;
  clusters: string[];
  endpoints: Record<string, string[]>;
}

/** `version type` for every generate call, so a test can tell a push was considered. */
const generated: string[] = [];

const translator: Translator<FakePush> = {
  generate(push, _proxy, typeUrl) {
    generated.push(`${push.version} ${typeUrl}`);
    const out = new Map<string, object>();
    if (typeUrl === TYPE.cluster) {
      for (const c of push.clusters)
        out.set(c, { name: c, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
    }
    if (typeUrl === TYPE.endpoint) {
      // Every cluster has its assignment, empty when it has no endpoints (as Istio sends them):
      // a cluster naming one that is not generated is held back (consistency.ts).
      for (const c of push.clusters) {
        const addrs = push.endpoints[c] ?? [];
        out.set(c, {
          cluster_name: c,
          endpoints: [
            {
              load_balancing_weight: { value: 1 },
              lb_endpoints: addrs.map((a) => ({
                endpoint: { address: { socket_address: { address: a, port_value: 80 } } },
              })),
            },
          ],
        });
      }
    }
    return out;
  },
  affectedTypes(prev, next) {
    const t = new Set<ResourceTypeUrl>();
    if (JSON.stringify(prev.clusters) !== JSON.stringify(next.clusters)) t.add(TYPE.cluster);
    if (JSON.stringify(prev.endpoints) !== JSON.stringify(next.endpoints)) t.add(TYPE.endpoint);
    return t;
  },
};

interface Response {
  version_info?: string;
  system_version_info?: string;
  nonce: string;
  type_url: string;
  resources: (
    | { type_url: string; value: Buffer }
    | { name: string; version: string; resource: { type_url: string; value: Buffer } }
  )[];
  removed_resources?: string[];
}

const AdsClient = grpc.makeGenericClientConstructor(adsService(), 'AggregatedDiscoveryService');

async function start(initial: FakePush) {
  const server = new AdsServer<FakePush>({ translator, initial, concurrency: 4 });
  const port = await server.listen('127.0.0.1', 0);
  const client = new AdsClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
    DeltaAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
  };
  return { server, client };
}

/** Collects responses and lets a test await the next one. */
function inbox(stream: grpc.ClientDuplexStream<object, Response>) {
  const queue: Response[] = [];
  let waiter: ((r: Response) => void) | undefined;
  stream.on('data', (r: Response) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(r);
    } else queue.push(r);
  });
  stream.on('error', () => undefined);
  return {
    next: (timeoutMs = 3000) =>
      new Promise<Response>((resolve, reject) => {
        const r = queue.shift();
        if (r) return resolve(r);
        const t = setTimeout(() => reject(new Error('no response within timeout')), timeoutMs);
        waiter = (x) => {
          clearTimeout(t);
          resolve(x);
        };
      }),
    pending: () => queue.length,
  };
}

const node = { id: 'sidecar~127.0.0.1~app-1.default~default.svc.cluster.local' };

test('SotW: serves subscriptions, records ACK and NACK per type, pushes only what changed', async () => {
  const { server, client } = await start({
    version: 'v1',
    clusters: ['a', 'b'],
    endpoints: { a: ['10.0.0.1'], b: ['10.0.0.2'] },
  });
  const stream = client.StreamAggregatedResources();
  const box = inbox(stream);
  try {
    stream.write({ node, type_url: TYPE.cluster });
    const cds = await box.next();
    assert.equal(cds.version_info, 'v1');
    assert.deepEqual(
      cds.resources.map((r) => unpackAny<{ name: string }>(r as never).name),
      ['a', 'b'],
    );
    stream.write({ node, type_url: TYPE.cluster, version_info: 'v1', response_nonce: cds.nonce });
    stream.write({ node, type_url: TYPE.endpoint, resource_names: ['a'] });
    const eds = await box.next();
    assert.equal(eds.resources.length, 1, 'only the requested cluster');
    stream.write({
      node,
      type_url: TYPE.endpoint,
      version_info: 'v1',
      resource_names: ['a'],
      response_nonce: eds.nonce,
      error_detail: { code: 3, message: 'bad endpoint' },
    });
    await eventually(() => {
      const st = server.status()[0]!;
      assert.equal(st.types.CDS?.status, 'SYNCED');
      assert.equal(st.types.EDS?.status, 'NACK');
      assert.equal(st.types.EDS?.lastNack?.message, 'bad endpoint');
    }, 'the NACK recorded');

    // Endpoint-only change for a cluster this proxy watches: EDS only.
    server.update({ version: 'v2', clusters: ['a', 'b'], endpoints: { a: ['10.0.0.9'], b: ['10.0.0.2'] } });
    const eds2 = await box.next();
    assert.equal(eds2.type_url, TYPE.endpoint);
    assert.equal(eds2.version_info, 'v2');
    stream.write({
      node,
      type_url: TYPE.endpoint,
      version_info: 'v2',
      resource_names: ['a'],
      response_nonce: eds2.nonce,
    });
    await eventually(() => server.status()[0]?.types.EDS?.lastAckedVersion === 'v2', 'the v2 ACK');
    // Change to an endpoint this proxy did not ask for: nothing is sent. Once the server has
    // considered v3 for this proxy, a later change to `a` must be the next message it sends.
    server.update({ version: 'v3', clusters: ['a', 'b'], endpoints: { a: ['10.0.0.9'], b: ['10.0.0.3'] } });
    await eventually(() => generated.includes(`v3 ${TYPE.endpoint}`), 'the v3 push to be considered');
    assert.equal(server.status()[0]?.types.EDS?.status, 'SYNCED', 'still in sync at v2: nothing new to send');
    server.update({ version: 'v4', clusters: ['a', 'b'], endpoints: { a: ['10.0.0.10'], b: ['10.0.0.3'] } });
    const eds4 = await box.next();
    assert.equal(eds4.version_info, 'v4', 'the change to b was not sent');
    assert.equal(eds4.type_url, TYPE.endpoint);
    assert.ok(server.metrics.render().includes('pilot_total_xds_rejects{type="EDS"} 1'));
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});

test('SotW: a stale nonce is ignored unless the subscription changed', async () => {
  const { server, client } = await start({
    version: 'v1',
    clusters: ['a', 'b'],
    endpoints: { a: ['1.1.1.1'], b: ['2.2.2.2'] },
  });
  const stream = client.StreamAggregatedResources();
  const box = inbox(stream);
  try {
    stream.write({ node, type_url: TYPE.endpoint, resource_names: ['a'] });
    const first = await box.next();
    server.update({ version: 'v2', clusters: ['a', 'b'], endpoints: { a: ['1.1.1.9'], b: ['2.2.2.2'] } });
    const second = await box.next();
    // The client ACKs the first (now stale) nonce with the same names: ignored.
    stream.write({
      node,
      type_url: TYPE.endpoint,
      resource_names: ['a'],
      response_nonce: first.nonce,
      version_info: 'v1',
    });
    // The server reads a stream's requests in order and pushes CDS and EDS before RDS, so if
    // the stale ACK had been answered, that EDS response would come before this RDS one.
    stream.write({ node, type_url: TYPE.route, resource_names: ['80'] });
    const rds = await box.next();
    assert.equal(rds.type_url, TYPE.route, 'the stale ACK got no answer');
    const eds = server.status()[0]?.types.EDS;
    assert.equal(eds?.status, 'STALE');
    assert.equal(eds?.lastAckedVersion, '', 'the stale ACK was not taken as an ACK of v1');
    // A stale nonce that widens the subscription is answered.
    stream.write({
      node,
      type_url: TYPE.endpoint,
      resource_names: ['a', 'b'],
      response_nonce: first.nonce,
      version_info: 'v1',
    });
    const third = await box.next();
    assert.equal(third.resources.length, 2);
    assert.notEqual(third.nonce, second.nonce);
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});

test('delta: wildcard CDS, incremental updates and removals', async () => {
  const { server, client } = await start({ version: 'v1', clusters: ['a', 'b'], endpoints: {} });
  const stream = client.DeltaAggregatedResources();
  const box = inbox(stream);
  try {
    stream.write({ node, type_url: TYPE.cluster, initial_resource_versions: {} });
    const first = await box.next();
    assert.deepEqual(first.resources.map((r) => (r as { name: string }).name).sort(), ['a', 'b']);
    stream.write({ node, type_url: TYPE.cluster, response_nonce: first.nonce });
    server.update({ version: 'v2', clusters: ['a', 'c'], endpoints: {} });
    const second = await box.next();
    assert.deepEqual(
      second.resources.map((r) => (r as { name: string }).name),
      ['c'],
      'only the new cluster',
    );
    assert.deepEqual(second.removed_resources, ['b']);
    stream.write({ node, type_url: TYPE.cluster, response_nonce: second.nonce });
    await eventually(() => server.status()[0]?.types.CDS?.status === 'SYNCED', 'the ACK recorded');
    assert.equal(server.status()[0]?.mode, 'delta');
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});

test('config dump shows what a proxy was sent, in proto3 JSON', async () => {
  const { server, client } = await start({
    version: 'v1',
    clusters: ['outbound|80||a.default.svc.cluster.local'],
    endpoints: {},
  });
  const stream = client.StreamAggregatedResources();
  const box = inbox(stream);
  try {
    stream.write({ node, type_url: TYPE.cluster });
    await box.next();
    const dump = server.configDump(node.id) as {
      configs: { dynamic_active_clusters?: { name: string; resource: Record<string, unknown> }[] }[];
    };
    const clusters = dump.configs[0]?.dynamic_active_clusters ?? [];
    assert.equal(clusters[0]?.name, 'outbound|80||a.default.svc.cluster.local');
    assert.equal(clusters[0]?.resource['@type'], TYPE.cluster);
    assert.ok('edsClusterConfig' in (clusters[0]?.resource ?? {}));
    assert.equal(server.configDump('nobody'), undefined);
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});
