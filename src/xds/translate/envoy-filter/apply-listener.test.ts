/**
 * EnvoyFilter LISTENER, FILTER_CHAIN, NETWORK_FILTER and HTTP_FILTER operations on generated LDS
 * (Istio's listener_patch.go semantics); every result still encodes and holds to Envoy's rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvoyConfigObjectPatch } from '../../../api/networking/envoy-filter.js';
import { TYPE } from '../../../protocol/protos.js';
import type { Loose } from '../testkit.js';
import { GATEWAY, gen, HCM, LOCAL_RL, ROUTER, typed } from './apply-fixture.js';
import { hcmsOf, httpFilterNames, LOCAL_LIMIT_ROUTE_VALUE } from './testing.js';

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
