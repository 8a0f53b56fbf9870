/**
 * EnvoyFilter operations on generated config, per applyTo (Istio's semantics, from
 * pilot/pkg/networking/core/envoyfilter): what each operation does to the CDS, LDS and RDS a
 * proxy is served, and that the result still encodes and holds to Envoy's validate rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import type { EnvoyConfigObjectPatch } from '../../../api/networking/envoy-filter.js';
import { TYPE, unpackAny, type ResourceTypeUrl } from '../../../protocol/protos.js';
import type { ProxyNode } from '../../proxy-node.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
  type Loose,
} from '../testkit.js';
import { envoyFilter, hcmsOf, httpFilterNames, LOCAL_LIMIT_ROUTE_VALUE } from './testing.js';

const A = 'a.default.svc.cluster.local';
const B = 'b.default.svc.cluster.local';
const HCM = 'envoy.filters.network.http_connection_manager';
const ROUTER = 'envoy.filters.http.router';
const LOCAL_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const BASE: Resource[] = [
  res('VirtualService', 'default', 'b', {
    hosts: ['b'],
    http: [
      { name: 'r1', match: [{ uri: { prefix: '/x' } }], route: [{ destination: { host: 'b' } }] },
      { name: 'r2', redirect: { uri: '/y' } },
    ],
  }),
  res('Gateway', 'default', 'gw', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  }),
  res('VirtualService', 'default', 'gw-b', {
    hosts: ['*'],
    gateways: ['gw'],
    http: [{ name: 'to-b', route: [{ destination: { host: 'b' } }] }],
  }),
];
const SERVICES = [service(A, [http(80)]), service(B, [http(80), tcp(5432)], { addresses: ['10.1.0.2'] })];
const GATEWAY = proxy({ type: 'router', labels: { istio: 'ingressgateway' } });

function pushWith(resources: readonly Resource[], revision = 1, previous?: PushContext) {
  return buildPushContext(
    config([...BASE, ...resources], revision),
    registry(SERVICES, [endpoint(A, '10.0.0.1')], 1),
    {},
    previous,
  );
}

/** One EnvoyFilter in `default` (no selector: every proxy of the namespace) with these patches. */
function gen<U extends ResourceTypeUrl>(
  patches: EnvoyConfigObjectPatch[],
  typeUrl: U,
  p: ProxyNode = proxy(),
): Map<string, Loose> {
  const out = generate(pushWith([envoyFilter('default', 'ef', { configPatches: patches })]), p, typeUrl);
  checkEncodes(typeUrl, out);
  return new Map(out) as Map<string, Loose>;
}

const typed = (any: Loose): Loose => unpackAny(any);

test("the issue's local rate limit: every inbound route gets the per-route config, the filter goes before the router", () => {
  const lds = gen(
    [
      {
        applyTo: 'HTTP_ROUTE',
        match: { context: 'SIDECAR_INBOUND', routeConfiguration: { vhost: { route: {} } } },
        patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE },
      },
      {
        applyTo: 'HTTP_FILTER',
        match: {
          context: 'SIDECAR_INBOUND',
          listener: { filterChain: { filter: { name: HCM, subFilter: { name: ROUTER } } } },
        },
        patch: {
          operation: 'INSERT_BEFORE',
          value: {
            name: 'envoy.filters.http.local_ratelimit',
            typed_config: { '@type': LOCAL_RL, stat_prefix: 'http_local_rate_limiter' },
          },
        },
      },
    ],
    TYPE.listener,
  );
  const inbound = lds.get('inbound|80||');
  for (const names of httpFilterNames(inbound))
    assert.deepEqual(names.slice(-2), ['envoy.filters.http.local_ratelimit', ROUTER]);
  for (const hcm of hcmsOf(inbound)) {
    const route = hcm.route_config.virtual_hosts[0].routes[0];
    const limit = typed(route.typed_per_filter_config['envoy.filters.http.local_ratelimit']);
    assert.deepEqual(limit.token_bucket, {
      max_tokens: 1000,
      tokens_per_fill: { value: 1000 },
      fill_interval: { seconds: 1 },
    });
    // HUNDRED is the enum's zero value: proto3 leaves it out.
    assert.deepEqual(limit.filter_enforced.default_value, { numerator: 100 });
    // The route itself is as generated.
    assert.equal(route.route.cluster, 'inbound|80||');
  }
  // Outbound listeners are another context: untouched.
  assert.ok(!httpFilterNames(lds.get('0.0.0.0_80')).flat().includes('envoy.filters.http.local_ratelimit'));
  const rds = gen(
    [
      {
        applyTo: 'HTTP_ROUTE',
        match: { context: 'SIDECAR_INBOUND' },
        patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE },
      },
    ],
    TYPE.route,
  );
  for (const vh of rds.get('80').virtual_hosts)
    for (const r of vh.routes) assert.equal(r.typed_per_filter_config, undefined);
});

test('HTTP_FILTER operations on the outbound HTTP connection manager', () => {
  const match = (sub?: string) => ({
    context: 'SIDECAR_OUTBOUND' as const,
    listener: {
      portNumber: 80,
      filterChain: { filter: { name: HCM, ...(sub ? { subFilter: { name: sub } } : {}) } },
    },
  });
  const filter = (name: string) => ({ name, typed_config: { '@type': LOCAL_RL, stat_prefix: name } });
  const base = [
    'envoy.filters.http.fault',
    'envoy.filters.http.cors',
    'envoy.filters.http.dynamic_forward_proxy',
    ROUTER,
  ];
  const cases: { name: string; patch: EnvoyConfigObjectPatch; want: string[] }[] = [
    {
      name: 'ADD appends',
      patch: { applyTo: 'HTTP_FILTER', match: match(), patch: { operation: 'ADD', value: filter('x') } },
      want: [...base, 'x'],
    },
    {
      name: 'INSERT_FIRST',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match(),
        patch: { operation: 'INSERT_FIRST', value: filter('x') },
      },
      want: ['x', ...base],
    },
    {
      name: 'INSERT_BEFORE the router',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match(ROUTER),
        patch: { operation: 'INSERT_BEFORE', value: filter('x') },
      },
      want: [...base.slice(0, 3), 'x', ROUTER],
    },
    {
      name: 'INSERT_AFTER fault',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match('envoy.filters.http.fault'),
        patch: { operation: 'INSERT_AFTER', value: filter('x') },
      },
      want: ['envoy.filters.http.fault', 'x', ...base.slice(1)],
    },
    {
      name: 'INSERT_BEFORE a filter that is not there does nothing',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match('envoy.filters.http.lua'),
        patch: { operation: 'INSERT_BEFORE', value: filter('x') },
      },
      want: base,
    },
    {
      name: 'INSERT_BEFORE without a sub filter goes first',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match(),
        patch: { operation: 'INSERT_BEFORE', value: filter('x') },
      },
      want: ['x', ...base],
    },
    {
      name: 'INSERT_AFTER without a sub filter goes last',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match(),
        patch: { operation: 'INSERT_AFTER', value: filter('x') },
      },
      want: [...base, 'x'],
    },
    {
      name: 'REPLACE cors',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match('envoy.filters.http.cors'),
        patch: { operation: 'REPLACE', value: filter('x') },
      },
      want: ['envoy.filters.http.fault', 'x', ...base.slice(2)],
    },
    {
      name: 'REPLACE without a sub filter does nothing',
      patch: { applyTo: 'HTTP_FILTER', match: match(), patch: { operation: 'REPLACE', value: filter('x') } },
      want: base,
    },
    {
      name: 'REMOVE cors',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match('envoy.filters.http.cors'),
        patch: { operation: 'REMOVE' },
      },
      want: base.filter((n) => n !== 'envoy.filters.http.cors'),
    },
    {
      name: 'REMOVE without a sub filter removes nothing',
      patch: { applyTo: 'HTTP_FILTER', match: match(), patch: { operation: 'REMOVE' } },
      want: base,
    },
    {
      name: "MERGE renames the filter it matches (Istio: the patch's name wins)",
      patch: {
        applyTo: 'HTTP_FILTER',
        match: match('envoy.filters.http.cors'),
        patch: { operation: 'MERGE', value: { name: 'cors2' } },
      },
      want: ['envoy.filters.http.fault', 'cors2', ...base.slice(2)],
    },
    {
      name: 'another port: no change',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: { context: 'SIDECAR_OUTBOUND', listener: { portNumber: 81 } },
        patch: { operation: 'ADD', value: filter('x') },
      },
      want: base,
    },
    {
      name: 'the deprecated HCM name matches the HCM',
      patch: {
        applyTo: 'HTTP_FILTER',
        match: {
          context: 'SIDECAR_OUTBOUND',
          listener: {
            portNumber: 80,
            filterChain: {
              filter: { name: 'envoy.http_connection_manager', subFilter: { name: 'envoy.router' } },
            },
          },
        },
        patch: { operation: 'INSERT_BEFORE', value: filter('x') },
      },
      want: [...base.slice(0, 3), 'x', ROUTER],
    },
  ];
  for (const c of cases) {
    const lds = gen([c.patch], TYPE.listener);
    assert.deepEqual(httpFilterNames(lds.get('0.0.0.0_80')), [c.want], c.name);
  }
});

test('HTTP_FILTER MERGE merges a typed config of the same type, and keeps its own for another type', () => {
  const match = {
    context: 'SIDECAR_OUTBOUND' as const,
    listener: {
      portNumber: 80,
      filterChain: { filter: { name: HCM, subFilter: { name: 'envoy.filters.http.fault' } } },
    },
  };
  const fault = (lds: Map<string, Loose>): Loose =>
    typed(
      hcmsOf(lds.get('0.0.0.0_80'))[0].http_filters.find((f: Loose) => f.name === 'envoy.filters.http.fault')
        .typed_config,
    );
  const same = gen(
    [
      {
        applyTo: 'HTTP_FILTER',
        match,
        patch: {
          operation: 'MERGE',
          value: {
            name: 'envoy.filters.http.fault',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
              max_active_faults: 7,
            },
          },
        },
      },
    ],
    TYPE.listener,
  );
  assert.deepEqual(fault(same).max_active_faults, { value: 7 });
  const other = gen(
    [
      {
        applyTo: 'HTTP_FILTER',
        match,
        patch: { operation: 'MERGE', value: { typed_config: { '@type': LOCAL_RL, stat_prefix: 'x' } } },
      },
    ],
    TYPE.listener,
  );
  assert.deepEqual(fault(other), {});
});

test('LISTENER, FILTER_CHAIN and NETWORK_FILTER operations', () => {
  const names = (lds: Map<string, Loose>) => [...lds.keys()].sort();
  const all = ['0.0.0.0_80', '10.1.0.2_5432', 'inbound|80||', 'virtualOutbound'];
  assert.deepEqual(names(gen([], TYPE.listener)), all);
  // REMOVE by port, in its context only.
  assert.deepEqual(
    names(
      gen(
        [
          {
            applyTo: 'LISTENER',
            match: { context: 'SIDECAR_OUTBOUND', listener: { portNumber: 80 } },
            patch: { operation: 'REMOVE' },
          },
        ],
        TYPE.listener,
      ),
    ),
    all.filter((n) => n !== '0.0.0.0_80'),
  );
  assert.deepEqual(
    names(
      gen(
        [
          {
            applyTo: 'LISTENER',
            match: { context: 'SIDECAR_INBOUND', listener: { portNumber: 5432 } },
            patch: { operation: 'REMOVE' },
          },
        ],
        TYPE.listener,
      ),
    ),
    all,
  );
  // MERGE sets a field; ADD adds a listener (outbound context by default).
  const added = {
    name: 'extra',
    address: { socket_address: { address: '127.0.0.1', port_value: 9999 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
              stat_prefix: 'x',
              cluster: 'BlackHoleCluster',
            },
          },
        ],
      },
    ],
  };
  const merged = gen(
    [
      {
        applyTo: 'LISTENER',
        match: { listener: { name: '10.1.0.2_5432' } },
        patch: { operation: 'MERGE', value: { per_connection_buffer_limit_bytes: 1024 } },
      },
      { applyTo: 'LISTENER', patch: { operation: 'ADD', value: added } },
    ],
    TYPE.listener,
  );
  assert.deepEqual(merged.get('10.1.0.2_5432').per_connection_buffer_limit_bytes, { value: 1024 });
  assert.equal(merged.get('extra').address.socket_address.port_value, 9999);
  // A listener ADD for the inbound context is not added at a gateway.
  const gw = gen(
    [
      {
        applyTo: 'LISTENER',
        match: { context: 'SIDECAR_INBOUND' },
        patch: { operation: 'ADD', value: added },
      },
    ],
    TYPE.listener,
    GATEWAY,
  );
  assert.equal(gw.has('extra'), false);
  // NETWORK_FILTER: INSERT_FIRST before the tcp_proxy, then REMOVE it again by name.
  const rbac = {
    name: 'envoy.filters.network.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
      stat_prefix: 'x',
    },
  };
  const tcpListener = { context: 'SIDECAR_OUTBOUND' as const, listener: { portNumber: 5432 } };
  const inserted = gen(
    [{ applyTo: 'NETWORK_FILTER', match: tcpListener, patch: { operation: 'INSERT_FIRST', value: rbac } }],
    TYPE.listener,
  );
  assert.deepEqual(
    inserted.get('10.1.0.2_5432').filter_chains[0].filters.map((f: Loose) => String(f.name)),
    ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy'],
  );
  const removed = gen(
    [
      { applyTo: 'NETWORK_FILTER', match: tcpListener, patch: { operation: 'INSERT_FIRST', value: rbac } },
      {
        applyTo: 'NETWORK_FILTER',
        match: {
          ...tcpListener,
          listener: {
            ...tcpListener.listener,
            filterChain: { filter: { name: 'envoy.filters.network.rbac' } },
          },
        },
        patch: { operation: 'REMOVE' },
      },
    ],
    TYPE.listener,
  );
  assert.deepEqual(
    removed.get('10.1.0.2_5432').filter_chains[0].filters.map((f: Loose) => String(f.name)),
    ['envoy.filters.network.tcp_proxy'],
  );
  // FILTER_CHAIN: REMOVE the chain; ADD one.
  const chain = gen(
    [
      { applyTo: 'FILTER_CHAIN', match: tcpListener, patch: { operation: 'REMOVE' } },
      {
        applyTo: 'FILTER_CHAIN',
        match: tcpListener,
        patch: { operation: 'ADD', value: { name: 'mine', filters: [rbac] } },
      },
    ],
    TYPE.listener,
  );
  assert.deepEqual(
    chain.get('10.1.0.2_5432').filter_chains.map((c: Loose) => String(c.name)),
    ['mine'],
  );
});

test('ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE operations on sidecar RDS', () => {
  const vhostB = `${B}:80`;
  const rc = (patches: EnvoyConfigObjectPatch[]): Loose => gen(patches, TYPE.route).get('80');
  const routesOf = (r: Loose, vh: string): string[] =>
    (r.virtual_hosts.find((v: Loose) => v.name === vh).routes as Loose[]).map((x: Loose) => String(x.name));
  const out = { context: 'SIDECAR_OUTBOUND' as const };
  assert.equal(
    rc([
      {
        applyTo: 'ROUTE_CONFIGURATION',
        match: { ...out, routeConfiguration: { portNumber: 80 } },
        patch: { operation: 'MERGE', value: { max_direct_response_body_size_bytes: 2048 } },
      },
    ]).max_direct_response_body_size_bytes.value,
    2048,
  );
  assert.equal(
    rc([
      {
        applyTo: 'ROUTE_CONFIGURATION',
        match: { ...out, routeConfiguration: { portNumber: 81 } },
        patch: { operation: 'MERGE', value: { max_direct_response_body_size_bytes: 2048 } },
      },
    ]).max_direct_response_body_size_bytes,
    undefined,
  );
  const hosts = (r: Loose): string[] => (r.virtual_hosts as Loose[]).map((v: Loose) => String(v.name));
  assert.deepEqual(
    hosts(
      rc([
        {
          applyTo: 'VIRTUAL_HOST',
          match: { ...out, routeConfiguration: { vhost: { name: vhostB } } },
          patch: { operation: 'REMOVE' },
        },
      ]),
    ),
    [`${A}:80`, 'allow_any'],
  );
  assert.deepEqual(
    hosts(
      rc([
        {
          applyTo: 'VIRTUAL_HOST',
          match: out,
          patch: { operation: 'ADD', value: { name: 'extra', domains: ['extra.example'], routes: [] } },
        },
      ]),
    ),
    [`${A}:80`, vhostB, 'allow_any', 'extra'],
  );
  const replaced = rc([
    {
      applyTo: 'VIRTUAL_HOST',
      match: { ...out, routeConfiguration: { vhost: { name: vhostB } } },
      patch: { operation: 'REPLACE', value: { name: 'b2', domains: ['b2'] } },
    },
  ]);
  assert.deepEqual(hosts(replaced), [`${A}:80`, 'b2', 'allow_any']);
  const mergedVh = rc([
    {
      applyTo: 'VIRTUAL_HOST',
      match: { ...out, routeConfiguration: { vhost: { name: vhostB } } },
      patch: { operation: 'MERGE', value: { domains: ['b.extra'] } },
    },
  ]);
  assert.ok(mergedVh.virtual_hosts[1].domains.includes('b.extra'), 'repeated fields append');
  assert.ok(mergedVh.virtual_hosts[1].domains.length > 1);
  const replacedList = rc([
    {
      applyTo: 'VIRTUAL_HOST',
      match: { ...out, routeConfiguration: { vhost: { name: vhostB } } },
      patch: { operation: 'MERGE_AND_REPLACE_LIST', value: { domains: ['b.extra'] } },
    },
  ]);
  assert.deepEqual(
    replacedList.virtual_hosts[1].domains,
    ['b.extra'],
    'MERGE_AND_REPLACE_LIST replaces lists',
  );
  assert.deepEqual(replacedList.virtual_hosts[1].name, vhostB, 'and merges the rest');

  const route = (name: string) => ({ name, match: { prefix: `/${name}` }, direct_response: { status: 204 } });
  const inB = (r?: { name?: string; action?: 'ANY' | 'ROUTE' | 'REDIRECT' | 'DIRECT_RESPONSE' }) => ({
    ...out,
    routeConfiguration: { vhost: { name: vhostB, ...(r ? { route: r } : {}) } },
  });
  const cases: { name: string; patch: EnvoyConfigObjectPatch; want: string[] }[] = [
    {
      name: 'ADD appends',
      patch: { applyTo: 'HTTP_ROUTE', match: inB(), patch: { operation: 'ADD', value: route('n') } },
      want: ['r1', 'r2', 'n'],
    },
    {
      name: 'INSERT_FIRST',
      patch: { applyTo: 'HTTP_ROUTE', match: inB(), patch: { operation: 'INSERT_FIRST', value: route('n') } },
      want: ['n', 'r1', 'r2'],
    },
    {
      name: 'INSERT_FIRST with a route match that matches nothing',
      patch: {
        applyTo: 'HTTP_ROUTE',
        match: inB({ name: 'nope' }),
        patch: { operation: 'INSERT_FIRST', value: route('n') },
      },
      want: ['r1', 'r2'],
    },
    {
      name: 'INSERT_BEFORE r2',
      patch: {
        applyTo: 'HTTP_ROUTE',
        match: inB({ name: 'r2' }),
        patch: { operation: 'INSERT_BEFORE', value: route('n') },
      },
      want: ['r1', 'n', 'r2'],
    },
    {
      name: 'INSERT_AFTER r1',
      patch: {
        applyTo: 'HTTP_ROUTE',
        match: inB({ name: 'r1' }),
        patch: { operation: 'INSERT_AFTER', value: route('n') },
      },
      want: ['r1', 'n', 'r2'],
    },
    {
      name: 'INSERT_AFTER the REDIRECT route',
      patch: {
        applyTo: 'HTTP_ROUTE',
        match: inB({ action: 'REDIRECT' }),
        patch: { operation: 'INSERT_AFTER', value: route('n') },
      },
      want: ['r1', 'r2', 'n'],
    },
    {
      name: 'REMOVE r1',
      patch: { applyTo: 'HTTP_ROUTE', match: inB({ name: 'r1' }), patch: { operation: 'REMOVE' } },
      want: ['r2'],
    },
    {
      name: 'REMOVE every ROUTE action',
      patch: { applyTo: 'HTTP_ROUTE', match: inB({ action: 'ROUTE' }), patch: { operation: 'REMOVE' } },
      want: ['r2'],
    },
    {
      name: 'REMOVE without a route match: every route of the host',
      patch: { applyTo: 'HTTP_ROUTE', match: inB(), patch: { operation: 'REMOVE' } },
      want: [],
    },
  ];
  for (const c of cases) assert.deepEqual(routesOf(rc([c.patch]), vhostB), c.want, c.name);
  const merged = rc([
    {
      applyTo: 'HTTP_ROUTE',
      match: inB({ name: 'r1' }),
      patch: { operation: 'MERGE', value: { route: { timeout: '3s' } } },
    },
  ]);
  const r1 = merged.virtual_hosts[1].routes[0];
  assert.deepEqual([r1.route.cluster, r1.route.timeout], [`outbound|80||${B}`, { seconds: 3 }]);
  // MERGE of another oneof member replaces the action: a route becomes a direct response.
  const switched = rc([
    {
      applyTo: 'HTTP_ROUTE',
      match: inB({ name: 'r1' }),
      patch: { operation: 'MERGE', value: { direct_response: { status: 418 } } },
    },
  ]);
  assert.deepEqual(
    [switched.virtual_hosts[1].routes[0].route, switched.virtual_hosts[1].routes[0].direct_response.status],
    [undefined, 418],
  );
});

test('route patches at a gateway match its route configuration by port, in the GATEWAY context', () => {
  const rds = (patches: EnvoyConfigObjectPatch[]): Loose =>
    gen(patches, TYPE.route, GATEWAY).get('http.8080');
  const value = { request_headers_to_add: [{ header: { key: 'x-gw', value: '1' } }] };
  assert.equal(
    rds([
      {
        applyTo: 'ROUTE_CONFIGURATION',
        match: { context: 'GATEWAY', routeConfiguration: { portNumber: 8080 } },
        patch: { operation: 'MERGE', value },
      },
    ]).request_headers_to_add.length,
    1,
  );
  assert.equal(
    rds([
      {
        applyTo: 'ROUTE_CONFIGURATION',
        match: { context: 'SIDECAR_OUTBOUND' },
        patch: { operation: 'MERGE', value },
      },
    ]).request_headers_to_add,
    undefined,
  );
});

test('CLUSTER operations', () => {
  const cds = (patches: EnvoyConfigObjectPatch[], p = proxy()) => gen(patches, TYPE.cluster, p);
  const merged = cds([
    {
      applyTo: 'CLUSTER',
      match: { context: 'SIDECAR_OUTBOUND', cluster: { service: B, portNumber: 80 } },
      patch: { operation: 'MERGE', value: { connect_timeout: '7s' } },
    },
  ]);
  assert.deepEqual(merged.get(`outbound|80||${B}`).connect_timeout, { seconds: 7 });
  assert.notDeepEqual(merged.get(`outbound|5432||${B}`).connect_timeout, { seconds: 7 });
  assert.notDeepEqual(merged.get(`outbound|80||${A}`).connect_timeout, { seconds: 7 });
  // An inbound-context patch leaves outbound clusters alone, and changes inbound ones.
  const inbound = cds([
    {
      applyTo: 'CLUSTER',
      match: { context: 'SIDECAR_INBOUND' },
      patch: { operation: 'MERGE', value: { connect_timeout: '7s' } },
    },
  ]);
  assert.deepEqual(inbound.get('inbound|80||').connect_timeout, { seconds: 7 });
  assert.notDeepEqual(inbound.get(`outbound|80||${B}`).connect_timeout, { seconds: 7 });
  const removed = cds([
    { applyTo: 'CLUSTER', match: { cluster: { name: 'BlackHoleCluster' } }, patch: { operation: 'REMOVE' } },
  ]);
  assert.equal(removed.has('BlackHoleCluster'), false);
  assert.equal(removed.has('PassthroughCluster'), true);
  const added = cds([
    {
      applyTo: 'CLUSTER',
      patch: { operation: 'ADD', value: { name: 'extra', type: 'STATIC', connect_timeout: '1s' } },
    },
  ]);
  assert.equal(added.get('extra').type, 'STATIC');
  // An ADD for the inbound context of a sidecar, not at a gateway.
  const gw = cds(
    [
      {
        applyTo: 'CLUSTER',
        match: { context: 'SIDECAR_INBOUND' },
        patch: { operation: 'ADD', value: { name: 'extra' } },
      },
    ],
    GATEWAY,
  );
  assert.equal(gw.has('extra'), false);
});

test('a patch that does not decode is skipped; the others in the same filter still apply', () => {
  const lds = gen(
    [
      {
        applyTo: 'LISTENER',
        match: { listener: { name: '10.1.0.2_5432' } },
        patch: { operation: 'MERGE', value: { per_connection_buffer_limit: 1 } },
      },
      { applyTo: 'LISTENER', match: { listener: { name: '10.1.0.2_5432' } }, patch: { operation: 'REMOVE' } },
    ],
    TYPE.listener,
  );
  assert.equal(lds.has('10.1.0.2_5432'), false);
});

test('generator keys name the EnvoyFilters that apply: a filter change moves only the types it patches, for the proxies it selects', () => {
  const ll = (labels: Record<string, string>) =>
    envoyFilter('default', 'll', {
      workloadSelector: { labels },
      configPatches: [
        {
          applyTo: 'HTTP_ROUTE',
          match: { context: 'SIDECAR_INBOUND' },
          patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE },
        },
      ],
    });
  const before = pushWith([], 1);
  const after = pushWith([ll({ app: 'app' })], 2, before);
  const moved = (p: ProxyNode) => [...affectedTypes(before, after, p)].sort();
  assert.deepEqual(moved(proxy()), [TYPE.listener]);
  assert.deepEqual(moved(proxy({ labels: { app: 'other' } })), []);
  assert.deepEqual(moved(GATEWAY), []);
  // Proxies no filter selects get the very objects generated without filters.
  assert.equal(
    generate(after, proxy({ labels: { app: 'other' } }), TYPE.listener).get('inbound|80||'),
    generate(before, proxy({ labels: { app: 'other' } }), TYPE.listener).get('inbound|80||'),
  );
});
