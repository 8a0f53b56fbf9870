/**
 * Which push's config each proxy runs per type (`runningVersion`, what `trellis wait` and the
 * Router's rollout gate on): the version of the last ACKed response, carried forward over pushes
 * that leave the type unchanged for the proxy, and never forward past a NACK or an un-ACKed send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../protocol/grpc-services.js';
import { TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import { eventually } from '../../core/testing/eventually.js';
import { AdsServer, type Translator } from './ads-server.js';

interface FakePush {
  version: string;
  clusters: string[];
  endpoints: Record<string, string>;
}

const translator: Translator<FakePush> = {
  generate(push, _proxy, typeUrl, requested) {
    const out = new Map<string, object>();
    for (const c of push.clusters) {
      if (typeUrl === TYPE.cluster)
        out.set(c, {
          name: c,
          type: 'EDS',
          eds_config_hint: c,
          eds_cluster_config: { eds_config: { ads: {} } },
        });
      if (typeUrl === TYPE.endpoint && (!requested || requested.includes(c)))
        out.set(c, {
          cluster_name: c,
          endpoints: [
            {
              load_balancing_weight: { value: 1 },
              lb_endpoints: [
                {
                  endpoint: {
                    address: { socket_address: { address: push.endpoints[c] ?? '', port_value: 80 } },
                  },
                },
              ],
            },
          ],
        });
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
  version_info: string;
  nonce: string;
  type_url: string;
}

const AdsClient = grpc.makeGenericClientConstructor(adsService(), 'AggregatedDiscoveryService');
const node = { id: 'sidecar~127.0.0.1~app-1.default~default.svc.cluster.local' };

test('runningVersion: ACKed pushes, carried over unchanged types, held at a NACK or an un-ACKed send', async () => {
  const server = new AdsServer<FakePush>({
    translator,
    initial: { version: '1.0', clusters: ['a', 'b'], endpoints: { a: '10.0.0.1', b: '10.0.0.2' } },
  });
  const port = await server.listen('127.0.0.1', 0);
  const client = new AdsClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response>;
  };
  const stream = client.StreamAggregatedResources();
  const responses: Response[] = [];
  stream.on('data', (r: Response) => responses.push(r));
  stream.on('error', () => undefined);
  const next = async (type: string): Promise<Response> => {
    let found: Response | undefined;
    await eventually(() => {
      const i = responses.findIndex((r) => r.type_url === type);
      assert.ok(i >= 0, `a ${type} response`);
      found = responses.splice(i, 1)[0];
    }, `a ${type} response`);
    return found as Response;
  };
  const ack = (r: Response, names?: string[], error?: string) =>
    stream.write({
      node,
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      ...(names ? { resource_names: names } : {}),
      ...(error ? { error_detail: { code: 3, message: error } } : {}),
    });
  const running = () => {
    const t = server.status()[0]?.types ?? {};
    return { CDS: t.CDS?.runningVersion, EDS: t.EDS?.runningVersion };
  };
  try {
    stream.write({ node, type_url: TYPE.cluster });
    stream.write({ node, type_url: TYPE.endpoint, resource_names: ['a'] });
    const cds1 = await next(TYPE.cluster);
    const eds1 = await next(TYPE.endpoint);
    assert.deepEqual(running(), { CDS: '', EDS: '' }, 'nothing runs before an ACK');
    ack(cds1);
    ack(eds1, ['a']);
    await eventually(() => assert.deepEqual(running(), { CDS: '1.0', EDS: '1.0' }), 'both ACKed');

    // Endpoints of `a` change: CDS is unchanged for this proxy, so it runs 2.0 at once; EDS only
    // once the new assignment is ACKed.
    server.update({ version: '2.0', clusters: ['a', 'b'], endpoints: { a: '10.0.0.9', b: '10.0.0.2' } });
    const eds2 = await next(TYPE.endpoint);
    assert.deepEqual(running(), { CDS: '2.0', EDS: '1.0' }, 'the EDS push is not ACKed yet');
    ack(eds2, ['a']);
    await eventually(() => assert.deepEqual(running(), { CDS: '2.0', EDS: '2.0' }), 'the EDS ACK');

    // Endpoints of `b`, which this proxy does not watch: nothing is sent, and it runs 3.0.
    server.update({ version: '3.0', clusters: ['a', 'b'], endpoints: { a: '10.0.0.9', b: '10.0.0.3' } });
    await eventually(() => assert.deepEqual(running(), { CDS: '3.0', EDS: '3.0' }), 'an unchanged push');

    // A NACK keeps the proxy on what it ran.
    server.update({ version: '4.0', clusters: ['a', 'b'], endpoints: { a: '10.0.0.4', b: '10.0.0.3' } });
    const eds4 = await next(TYPE.endpoint);
    ack(eds4, ['a'], 'bad endpoint');
    await eventually(() => assert.equal(server.status()[0]?.types.EDS?.status, 'NACK'), 'the NACK');
    assert.deepEqual(running(), { CDS: '4.0', EDS: '3.0' });
    // A later unchanged push does not carry a NACKed type forward either.
    server.update({ version: '5.0', clusters: ['a', 'b'], endpoints: { a: '10.0.0.4', b: '10.0.0.3' } });
    await eventually(() => assert.equal(running().CDS, '5.0'), 'CDS carried to 5.0');
    assert.equal(running().EDS, '3.0');
  } finally {
    stream.end();
    client.close();
    await server.close();
  }
});
