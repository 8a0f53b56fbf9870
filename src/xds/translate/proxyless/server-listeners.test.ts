import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpFilter } from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny } from '../../../protocol/protos.js';
import type { Endpoint, Service } from '../../../registry/types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { pack } from '../envoy.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../index.js';
import { checkEncodes, config, endpoint, grpc, proxy, registry, service, type Loose } from '../testkit.js';
import { serverListeners, serverListenersKey, type ServerListenerInputs } from './server-listeners.js';
import { serverListenerName } from './server-names.js';
import { grpcErrors } from './testkit.js';

const ECHO = 'echo.default.svc.cluster.local';
const OTHER = 'other.default.svc.cluster.local';
const IP = '10.0.0.7';
const inbound = (port: number, address = '0.0.0.0') => serverListenerName(address, port);

function pushOf(services: Service[], endpoints: Endpoint[]): PushContext {
  return buildPushContext(config([]), registry(services, endpoints));
}

/** echo: service port 50051, the instance at IP listens on 7070. */
const PUSH = pushOf(
  [service(ECHO, [grpc(50051, 'grpc')]), service(OTHER, [grpc(9000, 'grpc')])],
  [endpoint(ECHO, IP, { ports: { grpc: 7070 } }), endpoint(OTHER, '10.0.0.8')],
);

function server(extra: Partial<ProxyNode> = {}): ProxyNode {
  return proxy({
    type: 'grpc',
    ipAddresses: [IP],
    id: `grpc~${IP}~echo-1.default~default.svc.cluster.local`,
    ...extra,
  });
}

function lds(names: string[] | undefined, p = server(), push = PUSH): Map<string, Loose> {
  const out = generate(push, p, TYPE.listener, names);
  checkEncodes(TYPE.listener, out);
  return out as Map<string, Loose>;
}

function hcm(l: Loose): Loose {
  return unpackAny(l.filter_chains[0].filters[0].typed_config);
}

function filterNames(m: Loose): string[] {
  return (m.http_filters as { name: string }[]).map((f) => f.name);
}

test('a served port gets a Listener of the asked name, address and port, with a non-forwarding route', () => {
  const out = lds([inbound(7070)]);
  assert.deepEqual([...out.keys()], ['xds.istio.io/grpc/lds/inbound/0.0.0.0:7070']);
  const l = out.get(inbound(7070));
  assert.deepEqual(l.address, { socket_address: { address: '0.0.0.0', port_value: 7070 } });
  assert.equal(l.filter_chains.length, 1);
  assert.equal(l.filter_chains[0].filter_chain_match, undefined, 'gRPC matches no transport protocol');
  assert.equal(
    l.filter_chains[0].transport_socket,
    undefined,
    'PERMISSIVE without the tlsMode label: plaintext',
  );
  const m = hcm(l);
  assert.deepEqual(m.route_config.virtual_hosts[0].domains, ['*']);
  assert.deepEqual(m.route_config.virtual_hosts[0].routes, [
    {
      match: { prefix: '/', path_specifier: 'prefix' },
      non_forwarding_action: {},
      action: 'non_forwarding_action',
    },
  ]);
  assert.deepEqual(filterNames(m), ['envoy.filters.http.router']);
  assert.deepEqual(grpcErrors(TYPE.listener, out), [], 'grpc-js-xds accepts it');
});

test('the address in the name is echoed back: loopback, a workload IP, IPv6', () => {
  for (const [address, expected] of [
    ['127.0.0.1', '127.0.0.1'],
    [IP, IP],
    ['::', '::'],
  ] as const) {
    const name = inbound(7070, address);
    const l = lds([name]).get(name);
    assert.equal(l?.address.socket_address.address, expected, name);
  }
  assert.equal(inbound(7070, '::'), 'xds.istio.io/grpc/lds/inbound/[::]:7070');
});

test('no Listener for ports the workload does not listen on, other workloads, or malformed names', () => {
  const names = [
    inbound(50051), // the service port, not the port the instance listens on
    inbound(9000), // another service's port, not at this workload's address
    'xds.istio.io/grpc/lds/inbound/0.0.0.0:0',
    'xds.istio.io/grpc/lds/inbound/0.0.0.0:70700',
    'xds.istio.io/grpc/lds/inbound/not-an-ip:7070',
    'xds.istio.io/grpc/lds/inbound/::1:7070',
    'xds.istio.io/grpc/lds/inbound/[10.0.0.7]:7070',
    'xds.istio.io/grpc/lds/inbound/0.0.0.0:7070/extra',
    'xds.istio.io/grpc/lds/inbound/',
    'xds.istio.io/grpc/lds/inbound/0.0.0.0:+7070',
  ];
  assert.deepEqual([...lds(names).keys()], []);
  // A proxy at another address serves nothing of echo's.
  assert.deepEqual([...lds([inbound(7070)], server({ ipAddresses: ['10.0.0.99'] })).keys()], []);
});

test('server names do not disturb client listeners, and a wildcard request gets no server listener', () => {
  const out = lds([inbound(7070), `${ECHO}:50051`]);
  assert.deepEqual([...out.keys()].sort(), [`${ECHO}:50051`, inbound(7070)].sort());
  assert.ok(out.get(`${ECHO}:50051`).api_listener, 'the client listener is unchanged');
  const all = lds(undefined);
  assert.ok(![...all.keys()].some((n) => n.startsWith('xds.istio.io/')), [...all.keys()].join(','));
});

test('the service port is used when the instance names no port', () => {
  const push = pushOf([service(ECHO, [grpc(50051, 'grpc')])], [endpoint(ECHO, IP)]);
  assert.deepEqual([...lds([inbound(50051)], server(), push).keys()], [inbound(50051)]);
});

test('the tlsMode=istio label turns PERMISSIVE into mTLS, with the certificate-provider TLS context', () => {
  const p = server({ labels: { app: 'echo', 'security.istio.io/tlsMode': 'istio' } });
  const out = lds([inbound(7070)], p);
  const chain = out.get(inbound(7070)).filter_chains[0];
  assert.equal(chain.name, 'inbound-mtls');
  assert.equal(chain.transport_socket.name, 'envoy.transport_sockets.tls');
  assert.equal(chain.transport_socket.typed_config.type_url, TYPE.downstreamTls);
  const ctx: Loose = unpackAny(chain.transport_socket.typed_config);
  assert.equal(ctx.require_client_certificate.value, true);
  assert.deepEqual(ctx.common_tls_context.tls_certificate_provider_instance, {
    instance_name: 'default',
    certificate_name: 'default',
  });
  assert.deepEqual(ctx.common_tls_context.validation_context.ca_certificate_provider_instance, {
    instance_name: 'default',
    certificate_name: 'ROOTCA',
  });
  assert.deepEqual(grpcErrors(TYPE.listener, out), []);
  // A bootstrap without the `default` instance cannot use it: the server would NACK.
  assert.match(grpcErrors(TYPE.listener, out, []).join(';'), /Unmatched .*instance_name: default/);
});

const DENY_ECHO: HttpFilter = {
  name: 'envoy.filters.http.rbac',
  typed_config: pack(TYPE.rbac, {
    rules: {
      action: 'DENY',
      policies: {
        'ns[default]-policy[deny]-rule[0]': {
          permissions: [{ url_path: { path: { exact: '/echo.Echo/Echo' } } }],
          principals: [{ any: true }],
        },
      },
    },
  }),
};
const ALLOW_CLIENT: HttpFilter = {
  name: 'envoy.filters.http.rbac',
  typed_config: pack(TYPE.rbac, {
    rules: {
      action: 'ALLOW',
      policies: {
        'ns[default]-policy[allow]-rule[0]': {
          permissions: [{ any: true }],
          principals: [
            { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/client' } } },
          ],
        },
      },
    },
  }),
};

function inputs(mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE', filters: HttpFilter[] = []): ServerListenerInputs {
  return { mtlsModeFor: () => mode, authzFilters: () => filters };
}

test('the seams: mode per port, and authorization filters before the router with unique names', () => {
  const p = server();
  const names = [inbound(7070)];
  const strict = serverListeners(PUSH, p, names, inputs('STRICT', [DENY_ECHO, ALLOW_CLIENT]));
  checkEncodes(TYPE.listener, strict);
  const l = strict.get(inbound(7070)) as Loose;
  assert.equal(l.filter_chains[0].name, 'inbound-mtls');
  assert.deepEqual(filterNames(hcm(l)), [
    'envoy.filters.http.rbac',
    'envoy.filters.http.rbac.2',
    'envoy.filters.http.router',
  ]);
  assert.deepEqual(grpcErrors(TYPE.listener, strict), []);
  const labelled = server({ labels: { 'security.istio.io/tlsMode': 'istio' } });
  const disabled = serverListeners(PUSH, labelled, names, inputs('DISABLE')).get(inbound(7070)) as Loose;
  assert.equal(disabled.filter_chains[0].transport_socket, undefined, 'DISABLE wins over the label');
});

test('the key names every input: served ports, the label, the mode, the filters', () => {
  const p = server();
  const base = serverListenersKey(PUSH, p);
  assert.equal(serverListenersKey(PUSH, p), base, 'stable');
  assert.notEqual(
    serverListenersKey(PUSH, server({ labels: { 'security.istio.io/tlsMode': 'istio' } })),
    base,
  );
  assert.notEqual(serverListenersKey(PUSH, p, inputs('STRICT')), base);
  assert.equal(
    serverListenersKey(PUSH, p, inputs('DISABLE')),
    base,
    'same output as PERMISSIVE without label',
  );
  const withDeny = serverListenersKey(PUSH, p, inputs('PERMISSIVE', [DENY_ECHO]));
  assert.notEqual(withDeny, base);
  assert.notEqual(serverListenersKey(PUSH, p, inputs('PERMISSIVE', [ALLOW_CLIENT])), withDeny);
});

test('a change of the instances at the server address pushes LDS to it, and nothing else does', () => {
  const moved = pushOf(
    [service(ECHO, [grpc(50051, 'grpc')]), service(OTHER, [grpc(9000, 'grpc')])],
    [endpoint(ECHO, IP, { ports: { grpc: 7071 } }), endpoint(OTHER, '10.0.0.8')],
  );
  assert.ok(affectedTypes(PUSH, moved, server()).has(TYPE.listener));
  assert.deepEqual([...lds([inbound(7070), inbound(7071)], server(), moved).keys()], [inbound(7071)]);
  const otherMoved = pushOf(
    [service(ECHO, [grpc(50051, 'grpc')]), service(OTHER, [grpc(9000, 'grpc')])],
    [endpoint(ECHO, IP, { ports: { grpc: 7070 } }), endpoint(OTHER, '10.0.0.9')],
  );
  assert.ok(!affectedTypes(PUSH, otherMoved, server()).has(TYPE.listener));
});

test('mTLS and plaintext chains of a port differ in their connection manager too (a grpc-js-xds 1.14.1 quirk)', () => {
  // The server compares Listeners by their filters first; equal filters would send it into a
  // transport socket comparison that throws or ignores the change (server-listener.ts comment).
  const names = [inbound(7070)];
  const chain = (mode: 'STRICT' | 'DISABLE'): Loose => {
    const l: Loose = serverListeners(PUSH, server(), names, inputs(mode)).get(inbound(7070));
    return l.filter_chains[0];
  };
  const strict = chain('STRICT');
  const plain = chain('DISABLE');
  assert.ok(strict.transport_socket);
  assert.equal(plain.transport_socket, undefined);
  assert.notDeepEqual(strict.filters[0].typed_config.value, plain.filters[0].typed_config.value);
});
