/**
 * Connections redirected to the outbound capture port (iptables), with a stand-in for the
 * SO_ORIGINAL_DST reader: the address the client dialled picks the listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { TYPE, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import type { OriginalDestination } from './outbound-capture.js';

const SVC = 'outbound|9080||svc.default.svc.cluster.local';
const DB_VIP = 'outbound|5432||db.default.svc.cluster.local';
const DB_ANY = 'outbound|5432||other-db.default.svc.cluster.local';

function tcpListenerOn(address: string, port: number, cluster: string, name = `${address}_${port}`): object {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    ...(name === 'virtualOutbound' ? { use_original_dst: { value: true } } : {}),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: packAny(TYPE.tcpProxy, { stat_prefix: cluster, cluster }),
          },
        ],
      },
    ],
  };
}

const PASSTHROUGH = {
  name: 'PassthroughCluster',
  type: 'ORIGINAL_DST',
  lb_policy: 'CLUSTER_PROVIDED',
  connect_timeout: { seconds: 1 },
};
const BLACKHOLE = {
  name: 'BlackHoleCluster',
  type: 'STATIC',
  connect_timeout: { seconds: 1 },
  load_assignment: { cluster_name: 'BlackHoleCluster', endpoints: [] },
};

/** A TCP server answering each line with `NAME:line`. */
async function tcpEcho(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(`${name}:${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Sends `ping` over a new connection; resolves with the reply, or `closed` if there is none. */
function tcpCall(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('ping'));
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got || 'closed'));
  });
}

test('captured connections are served by the listener of the address dialled: HTTP by its route config, TCP by exact address before 0.0.0.0, the rest passed through', async (t) => {
  const web = await startBackend('web');
  const vipDb = await tcpEcho('db');
  const anyDb = await tcpEcho('other-db');
  const outside = await tcpEcho('outside');
  let dst: OriginalDestination | undefined;
  const mesh = await startMesh(
    {
      CDS: [edsCluster(SVC), edsCluster(DB_VIP), edsCluster(DB_ANY), PASSTHROUGH, BLACKHOLE],
      EDS: [
        endpoints(SVC, [{ port: web.port }]),
        endpoints(DB_VIP, [{ port: vipDb.port }]),
        endpoints(DB_ANY, [{ port: anyDb.port }]),
      ],
      LDS: [
        httpListener(9080),
        tcpListenerOn('10.96.0.5', 5432, DB_VIP),
        tcpListenerOn('0.0.0.0', 5432, DB_ANY),
        tcpListenerOn('0.0.0.0', 15001, 'PassthroughCluster', 'virtualOutbound'),
      ],
      RDS: [routeConfig('9080', [virtualHost('svc', ['svc', 'svc:9080'], [routeTo(SVC)])])],
    },
    { originalDestination: () => dst },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await Promise.all([web.close(), vipDb.close(), anyDb.close(), outside.close()]);
  });

  // Host without a port: an HTTP_PROXY client would be routed by port 80 and find nothing;
  // dialled at 10.96.0.9:9080, the connection belongs to 0.0.0.0_9080 and its routes.
  dst = undefined;
  assert.equal((await request(mesh.port, { host: 'svc' })).status, 404);
  dst = { address: '10.96.0.9', port: 9080 };
  const viaCapture = await request(mesh.port, { host: 'svc' });
  assert.equal(viaCapture.status, 200);
  assert.equal((JSON.parse(viaCapture.body) as { backend: string }).backend, 'web');

  // A destination on the capture port itself (a client that connected to it directly, on an
  // address NAT left alone) is served as a proxy client, never passed through to itself.
  dst = { address: '192.0.2.1', port: mesh.port };
  const direct = await request(mesh.port, { host: 'svc:9080' });
  assert.equal((JSON.parse(direct.body) as { backend: string }).backend, 'web');

  dst = { address: '10.96.0.5', port: 5432 };
  assert.equal(await tcpCall(mesh.port), 'db:ping');
  dst = { address: '10.96.0.7', port: 5432 };
  assert.equal(await tcpCall(mesh.port), 'other-db:ping');
  // No listener for the address: virtualOutbound -> PassthroughCluster -> where it was going.
  dst = { address: '127.0.0.1', port: outside.port };
  assert.equal(await tcpCall(mesh.port), 'outside:ping');

  const stats = await (await fetch(`http://127.0.0.1:${mesh.proxy.adminPort}/stats/prometheus`)).text();
  const metric = (name: string, service: string) =>
    stats
      .split('\n')
      .filter(
        (l) =>
          l.startsWith(`${name}{`) &&
          (l.includes(`destination_service="${service}"`) ||
            l.includes(`destination_service_name="${service}"`)),
      )
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  assert.equal(metric('istio_tcp_connections_opened_total', 'db.default.svc.cluster.local'), 1);
  assert.equal(metric('istio_tcp_connections_opened_total', 'PassthroughCluster'), 1);
  assert.equal(metric('istio_tcp_received_bytes_total', 'PassthroughCluster'), 4);
  assert.equal(metric('istio_tcp_sent_bytes_total', 'PassthroughCluster'), 'outside:ping'.length);
  assert.match(
    stats,
    /istio_tcp_connections_opened_total\{reporter="source",source_workload="productpage-v1"/,
  );
});

test('REGISTRY_ONLY: a captured connection to an unknown destination is closed (BlackHoleCluster)', async (t) => {
  const outside = await tcpEcho('outside');
  const mesh = await startMesh(
    {
      CDS: [BLACKHOLE],
      LDS: [tcpListenerOn('0.0.0.0', 15001, 'BlackHoleCluster', 'virtualOutbound')],
    },
    { originalDestination: () => ({ address: '127.0.0.1', port: outside.port }) },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await outside.close();
  });
  assert.equal(await tcpCall(mesh.port), 'closed');
  const stats = await (await fetch(`http://127.0.0.1:${mesh.proxy.adminPort}/stats/prometheus`)).text();
  assert.match(
    stats,
    // As Istio counts it: no service known (TCP has no Host), the cluster as the service name.
    /istio_tcp_connections_closed_total\{[^}]*destination_service="unknown",destination_service_name="BlackHoleCluster"[^}]*response_flags="UH"[^}]*\} 1/,
  );
});

test('captured TLS on a port shared by services without a VIP goes by SNI; other names pass through', async (t) => {
  const hits = { api: 0, pay: 0, outside: 0 };
  const servers = await Promise.all(
    (['api', 'pay', 'outside'] as const).map(async (name) => {
      const server = net.createServer((s) => {
        hits[name]++;
        s.on('error', () => undefined);
        s.destroy();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      return server;
    }),
  );
  const portOf = (i: number) => (servers[i]?.address() as net.AddressInfo).port;
  const API = 'outbound|443||api.example.com';
  const PAY = 'outbound|443||pay.example.com';
  const sniChain = (host: string, cluster: string) => ({
    name: cluster,
    filter_chain_match: { server_names: [host], transport_protocol: 'tls' },
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: packAny(TYPE.tcpProxy, { stat_prefix: cluster, cluster }),
      },
    ],
  });
  const passthrough = {
    name: 'PassthroughCluster',
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: packAny(TYPE.tcpProxy, { stat_prefix: 'pt', cluster: 'PassthroughCluster' }),
      },
    ],
  };
  // The shared port is the "outside" server's, so a passthrough to 127.0.0.1 on it reaches it.
  const shared = portOf(2);
  let dst: OriginalDestination = { address: '203.0.113.7', port: shared };
  const mesh = await startMesh(
    {
      CDS: [edsCluster(API), edsCluster(PAY), PASSTHROUGH],
      EDS: [endpoints(API, [{ port: portOf(0) }]), endpoints(PAY, [{ port: portOf(1) }])],
      LDS: [
        {
          name: `0.0.0.0_${shared}`,
          address: { socket_address: { address: '0.0.0.0', port_value: shared } },
          filter_chains: [sniChain('api.example.com', API), sniChain('pay.example.com', PAY), passthrough],
        },
      ],
    },
    { originalDestination: () => dst },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  });
  const hello = (servername: string) =>
    new Promise<void>((resolve) => {
      const s = tls.connect({ port: mesh.port, host: '127.0.0.1', servername, rejectUnauthorized: false });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
  await hello('pay.example.com');
  await hello('api.example.com');
  await hello('pay.example.com');
  // Another name on the port: where it was going (here the "outside" server).
  dst = { address: '127.0.0.1', port: shared };
  await hello('www.example.org');
  assert.deepEqual(hits, { api: 1, pay: 2, outside: 1 });
});
