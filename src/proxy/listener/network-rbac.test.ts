import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TYPE, packAny } from '../../protocol/protos.js';
import { eventually } from '../../core/testing/eventually.js';
import { FakeAds } from '../testing/fake-ads.js';
import { startMesh } from '../testing/harness.js';
import { edsCluster, endpoints, httpListener } from '../testing/resources.js';
import { checkNetworkRbac } from './network-rbac.js';
import type { NetworkRbacFilter } from '../model/config.js';
import { compileRbac } from '../policy/rbac.js';

const TCP = 'outbound|7000||db.default.svc.cluster.local';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP listener with network RBAC filters ahead of the TCP proxy, as Istio builds inbound TCP chains. */
function tcpWithRbac(port: number, rbac: object[]): object {
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          ...rbac.map((config) => ({
            name: 'envoy.filters.network.rbac',
            typed_config: packAny(TYPE.networkRbac, config),
          })),
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: packAny(TYPE.tcpProxy, { stat_prefix: TCP, cluster: TCP }),
          },
        ],
      },
    ],
  };
}

/** Connects, sends a line and returns what came back before the connection closed. */
async function exchange(port: number): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    let got = '';
    const c = net.connect(port, '127.0.0.1', () => c.write('ping'));
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error('connection neither echoed nor closed'));
    }, 5000);
    c.on('data', (d: Buffer) => {
      got += d.toString();
      c.end();
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

async function tcpMesh(t: TestContext, rbac: object[] | ((port: number) => object[])) {
  let accepted = 0;
  const echo = net.createServer((s) => {
    accepted++;
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const port = await freePort();
  const mesh = await startMesh(
    {
      CDS: [edsCluster(TCP)],
      EDS: [endpoints(TCP, [{ port: (echo.address() as net.AddressInfo).port }])],
      LDS: [tcpWithRbac(port, typeof rbac === 'function' ? rbac(port) : rbac)],
    },
    { bindListeners: [port] },
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
  await eventually(() => mesh.proxy.listeners.ports.byListener.size === 1, 'listener bound');
  return { mesh, port, accepted: () => accepted };
}

const fromLoopback = { direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: { value: 8 } } };

test('a denied TCP connection is closed at once and never reaches the upstream', async (t) => {
  const { mesh, port, accepted } = await tcpMesh(t, [
    {
      stat_prefix: 'tcp.',
      rules: {
        action: 'DENY',
        policies: {
          'ns[db]-policy[deny-local]-rule[0]': { permissions: [{ any: true }], principals: [fromLoopback] },
        },
      },
    },
  ]);
  assert.equal(await exchange(port), '');
  assert.equal(accepted(), 0);
  assert.equal(mesh.proxy.stats.envoyCounter('tcp.rbac.denied'), 1);
});

test('an allowed connection is proxied; ports, ALLOW and DENY in chain order; HTTP rules never match TCP', async (t) => {
  const { mesh, port, accepted } = await tcpMesh(t, (port) => [
    {
      stat_prefix: 'tcp.',
      rules: {
        action: 'DENY',
        // A DENY on a path cannot apply to TCP (Envoy): it matches nothing here.
        policies: {
          'ns[db]-policy[paths]-rule[0]': {
            permissions: [{ url_path: { path: { prefix: '/' } } }],
            principals: [{ any: true }],
          },
        },
      },
    },
    {
      stat_prefix: 'tcp.',
      rules: {
        action: 'ALLOW',
        policies: {
          'ns[db]-policy[port]-rule[0]': {
            permissions: [{ destination_port: port }],
            principals: [fromLoopback],
          },
        },
      },
    },
  ]);
  assert.equal(await exchange(port), 'ping');
  assert.equal(accepted(), 1);
  assert.equal(mesh.proxy.stats.envoyCounter('tcp.rbac.allowed'), 2);
  assert.match(mesh.proxy.stats.prometheus(), /^envoy_tcp_rbac_allowed 2$/m);
});

test('network RBAC is refused where it cannot be honoured', async (t) => {
  const { mesh, port } = await tcpMesh(t, [
    { stat_prefix: 'tcp.', rules: { action: 'ALLOW', policies: {} } },
  ]);
  const cases: [string, object, RegExp][] = [
    [
      'no stat_prefix',
      tcpWithRbac(port, [{ rules: { policies: {} } }]),
      /filters\[0\]\.typed_config\.stat_prefix/,
    ],
    [
      'a CEL condition',
      tcpWithRbac(port, [
        {
          stat_prefix: 'x',
          rules: {
            policies: {
              p: { permissions: [{ any: true }], principals: [{ any: true }], condition: { id: 1 } },
            },
          },
        },
      ]),
      /condition/,
    ],
    [
      'ahead of an HTTP connection manager',
      {
        ...(httpListener(port, 'r') as Record<string, unknown>),
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.rbac',
                typed_config: packAny(TYPE.networkRbac, { stat_prefix: 'x' }),
              },
              ...(httpListener(port, 'r') as { filter_chains: { filters: object[] }[] }).filter_chains[0]!
                .filters,
            ],
          },
        ],
      },
      /ahead of tcp_proxy only/,
    ],
    [
      'another network filter ahead',
      {
        ...(tcpWithRbac(port, []) as Record<string, unknown>),
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.ext_authz',
                typed_config: packAny(TYPE.networkExtAuthz, { stat_prefix: 'x' }),
              },
              ...(tcpWithRbac(port, []) as { filter_chains: { filters: object[] }[] }).filter_chains[0]!
                .filters,
            ],
          },
        ],
      },
      /not supported before the terminal filter/,
    ],
  ];
  for (const [what, listener, message] of cases) {
    const nacks = mesh.ads.nacks('LDS').length;
    mesh.ads.set('LDS', [listener]);
    await mesh.ads.waitFor(() => mesh.ads.nacks('LDS').length > nacks, `NACK: ${what}`);
    assert.match(mesh.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '', message, what);
  }
  // The last good config (ALLOW nothing) still holds.
  assert.equal(await exchange(port), '');
});

test('principals of a network RBAC decision come from the connection TLS facts, only when mutual', () => {
  const filter: NetworkRbacFilter = {
    statPrefix: 'tcp.',
    rulesStatPrefix: '',
    shadowRulesStatPrefix: '',
    rules: compileRbac({
      action: 'ALLOW',
      policies: {
        p: {
          permissions: [{ requested_server_name: { exact: 'db.local' } }],
          principals: [
            { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/a/sa/app' } } },
          ],
        },
      },
    }),
  };
  const base = { remoteAddress: '10.0.0.1', localAddress: '10.0.0.2', localPort: 7000 };
  const id = 'spiffe://cluster.local/ns/a/sa/app';
  assert.equal(
    checkNetworkRbac([filter], {
      ...base,
      security: { policy: 'mutual_tls', peerPrincipal: id, sni: 'db.local' },
    }).allowed,
    true,
  );
  assert.equal(
    checkNetworkRbac([filter], { ...base, security: { policy: 'none', peerPrincipal: id, sni: 'db.local' } })
      .allowed,
    false,
  );
  assert.equal(
    checkNetworkRbac([filter], {
      ...base,
      security: { policy: 'mutual_tls', peerPrincipal: id, sni: 'other' },
    }).allowed,
    false,
  );
  const denied = checkNetworkRbac([filter], base);
  assert.deepEqual(denied, { allowed: false, details: 'rbac_access_denied_matched_policy[none]' });
});
