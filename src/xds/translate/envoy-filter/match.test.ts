/** The match predicates of EnvoyFilter patches, as tables over Envoy messages. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  EnvoyConfigObjectMatch,
  PatchContext,
  PatchOperation,
} from '../../../api/networking/envoy-filter.js';
import {
  canonicalName,
  clusterMatch,
  contextMatches,
  filterChainMatch,
  hasHttpFilterMatch,
  hasNetworkFilterMatch,
  hasRouteMatch,
  httpFilterMatch,
  isMergeOperation,
  listenerMatch,
  networkFilterMatch,
  routeConfigurationMatch,
  routeMatch,
  virtualHostMatch,
} from './match.js';
import type { DecodedPatch } from './patches.js';

const p = (match: EnvoyConfigObjectMatch, operation: PatchOperation = 'MERGE'): DecodedPatch => ({
  filter: 'ns/ef',
  index: 0,
  applyTo: 'HTTP_FILTER',
  operation,
  context: match.context ?? 'ANY',
  match,
  value: {},
});
const HCM = 'envoy.filters.network.http_connection_manager';

test('context and merge operations', () => {
  const contexts: PatchContext[] = ['SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY'];
  assert.deepEqual(
    contexts.map((c) => contextMatches(p({}), c)),
    [true, true, true],
  );
  assert.deepEqual(
    contexts.map((c) => contextMatches(p({ context: 'SIDECAR_INBOUND' }), c)),
    [true, false, false],
  );
  assert.deepEqual(
    (['MERGE', 'MERGE_AND_REPLACE_LIST', 'ADD', 'REPLACE'] as const).map((o) => isMergeOperation(p({}, o))),
    [true, true, false, false],
  );
  for (const [old, now] of [
    ['envoy.http_connection_manager', 'envoy.filters.network.http_connection_manager'],
    ['envoy.router', 'envoy.filters.http.router'],
    ['envoy.cors', 'envoy.filters.http.cors'],
    ['envoy.fault', 'envoy.filters.http.fault'],
    ['envoy.lua', 'envoy.filters.http.lua'],
    ['envoy.tcp_proxy', 'envoy.filters.network.tcp_proxy'],
    ['envoy.rate_limit', 'envoy.filters.http.ratelimit'],
    ['envoy.ext_authz', 'envoy.filters.http.ext_authz'],
  ])
    assert.equal(canonicalName(old as string), now);
  assert.equal(canonicalName('envoy.filters.http.lua'), 'envoy.filters.http.lua');
});

test('listener and filter chain matches', () => {
  const listener = {
    name: '0.0.0.0_80',
    address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
  };
  const cases: [EnvoyConfigObjectMatch['listener'], boolean][] = [
    [undefined, true],
    [{}, true],
    [{ portNumber: 80 }, true],
    [{ portNumber: 81 }, false],
    [{ portNumber: 0 }, true],
    [{ name: '0.0.0.0_80' }, true],
    [{ name: '0.0.0.0_81' }, false],
    [{ name: '', portNumber: 80 }, true],
  ];
  for (const [m, want] of cases)
    assert.equal(listenerMatch(listener, p({ listener: m })), want, JSON.stringify(m));
  assert.equal(listenerMatch({ name: 'x' }, p({ listener: { portNumber: 80 } })), false, 'no address');

  const chain = {
    name: 'tls-chain',
    filter_chain_match: {
      server_names: ['a.example', 'b.example'],
      transport_protocol: 'tls',
      application_protocols: ['h2', 'http/1.1'],
      destination_port: { value: 8443 },
    },
    filters: [{ name: HCM }],
  };
  const fc: [NonNullable<EnvoyConfigObjectMatch['listener']>['filterChain'], boolean][] = [
    [undefined, true],
    [{ name: 'tls-chain' }, true],
    [{ name: 'other' }, false],
    [{ sni: 'b.example' }, true],
    [{ sni: 'c.example' }, false],
    [{ transportProtocol: 'tls' }, true],
    [{ transportProtocol: 'raw_buffer' }, false],
    [{ applicationProtocols: 'h2' }, true],
    [{ applicationProtocols: 'h2,http/1.1' }, true],
    [{ applicationProtocols: 'h2,h3' }, false],
    [{ destinationPort: 8443 }, true],
    [{ destinationPort: 9443 }, false],
    [{ applicationProtocols: 'h2, http/1.1' }, false],
    // Empty values are unset (proto3), never a match on ''.
    [{ name: '', sni: '', transportProtocol: '', applicationProtocols: '', destinationPort: 0 }, true],
    // Istio does not look at the chain's filters here.
    [{ filter: { name: 'envoy.filters.network.tcp_proxy' } }, true],
  ];
  for (const [m, want] of fc)
    assert.equal(filterChainMatch(chain, p({ listener: { filterChain: m } })), want, JSON.stringify(m));
  for (const m of [
    { sni: 'a.example' },
    { transportProtocol: 'tls' },
    { applicationProtocols: 'h2' },
    { destinationPort: 1 },
  ])
    assert.equal(
      filterChainMatch({ filters: [] }, p({ listener: { filterChain: m } })),
      false,
      `bare chain ${JSON.stringify(m)}`,
    );
  assert.equal(filterChainMatch({ filters: [] }, p({ listener: { filterChain: { name: 'x' } } })), false);
  assert.equal(filterChainMatch({ filters: [] }, p({ listener: { filterChain: { name: '' } } })), true);
  assert.equal(
    filterChainMatch(
      { filters: [] },
      p({
        listener: {
          filterChain: { sni: '', transportProtocol: '', applicationProtocols: '', destinationPort: 0 },
        },
      }),
    ),
    true,
  );
});

test('network and HTTP filter matches', () => {
  const withFilter = p({ listener: { filterChain: { filter: { name: 'envoy.http_connection_manager' } } } });
  const withSub = p({
    listener: { filterChain: { filter: { name: HCM, subFilter: { name: 'envoy.router' } } } },
  });
  const none = p({ listener: { portNumber: 80 } });
  assert.deepEqual(
    [hasNetworkFilterMatch(withFilter), hasNetworkFilterMatch(withSub), hasNetworkFilterMatch(none)],
    [true, true, false],
  );
  assert.deepEqual(
    [hasHttpFilterMatch(withFilter), hasHttpFilterMatch(withSub), hasHttpFilterMatch(none)],
    [false, true, false],
  );
  assert.equal(hasNetworkFilterMatch(p({ listener: { filterChain: { filter: { name: '' } } } })), false);
  assert.equal(
    hasHttpFilterMatch(p({ listener: { filterChain: { filter: { name: HCM, subFilter: { name: '' } } } } })),
    false,
  );
  assert.equal(
    networkFilterMatch({ name: HCM }, withFilter),
    true,
    'deprecated name matches the current one',
  );
  assert.equal(networkFilterMatch({ name: 'envoy.filters.network.tcp_proxy' }, withFilter), false);
  assert.equal(networkFilterMatch({ name: 'anything' }, none), true);
  assert.equal(httpFilterMatch({ name: 'envoy.filters.http.router' }, withSub), true);
  assert.equal(httpFilterMatch({ name: 'envoy.filters.http.fault' }, withSub), false);
  assert.equal(httpFilterMatch({ name: 'anything' }, withFilter), true);
  assert.equal(httpFilterMatch({}, withSub), false);
  // Patches that match nothing below the listener, or nothing at all.
  for (const bare of [p({}), p({ listener: {} }), p({ listener: { filterChain: {} } })]) {
    assert.equal(hasNetworkFilterMatch(bare), false);
    assert.equal(hasHttpFilterMatch(bare), false);
    assert.equal(networkFilterMatch({ name: 'x' }, bare), true);
    assert.equal(httpFilterMatch({ name: 'x' }, bare), true);
    assert.equal(filterChainMatch({ filters: [] }, bare), true);
  }
  assert.equal(hasHttpFilterMatch(p({ listener: { filterChain: { filter: { name: HCM } } } })), false);
});

test('route configuration, virtual host and route matches', () => {
  const rc = (m: NonNullable<EnvoyConfigObjectMatch['routeConfiguration']>) => p({ routeConfiguration: m });
  const cases: [string, PatchContext, NonNullable<EnvoyConfigObjectMatch['routeConfiguration']>, boolean][] =
    [
      ['80', 'SIDECAR_OUTBOUND', {}, true],
      ['80', 'SIDECAR_OUTBOUND', { portNumber: 80 }, true],
      ['80', 'SIDECAR_OUTBOUND', { portNumber: 81 }, false],
      ['80', 'SIDECAR_OUTBOUND', { name: '80' }, true],
      ['80', 'SIDECAR_OUTBOUND', { name: '81' }, false],
      ['80', 'SIDECAR_OUTBOUND', { name: '', portNumber: 0 }, true],
      ['80a', 'SIDECAR_OUTBOUND', { portNumber: 80 }, false],
      ['a80', 'SIDECAR_OUTBOUND', { portNumber: 80 }, false],
      ['xhttp.8080', 'GATEWAY', { portNumber: 8080 }, false],
      ['http.8080x', 'GATEWAY', { portNumber: 8080 }, false],
      ['http.8080', 'GATEWAY', { portName: '', gateway: '' }, true],
      ['inbound|9080||', 'SIDECAR_INBOUND', { portNumber: 9080 }, true],
      ['inbound|9080||', 'SIDECAR_INBOUND', { portNumber: 80 }, false],
      ['virtualOutbound', 'SIDECAR_OUTBOUND', { portNumber: 80 }, false],
      ['http.8080', 'GATEWAY', { portNumber: 8080 }, true],
      ['https.443', 'GATEWAY', { portNumber: 443 }, true],
      ['http.8080', 'GATEWAY', { portNumber: 80 }, false],
      // Istio's plain `http.PORT` names carry no port name or gateway: such matches fail there too.
      ['http.8080', 'GATEWAY', { portName: 'http' }, false],
      ['http.8080', 'GATEWAY', { gateway: 'default/gw' }, false],
      ['http.8080', 'GATEWAY', { name: 'http.8080' }, true],
    ];
  for (const [name, context, m, want] of cases)
    assert.equal(routeConfigurationMatch({ name }, rc(m), context), want, `${name} ${JSON.stringify(m)}`);
  assert.equal(routeConfigurationMatch({ name: '80' }, p({}), 'GATEWAY'), true);

  const vh = { name: 'b:80', domains: ['b', 'b.default'] };
  assert.equal(virtualHostMatch(vh, rc({})), true);
  assert.equal(virtualHostMatch(vh, rc({ vhost: { name: 'b:80' } })), true);
  assert.equal(virtualHostMatch(vh, rc({ vhost: { name: 'c:80' } })), false);
  assert.equal(virtualHostMatch(vh, rc({ vhost: { name: '', domainName: '' } })), true);
  assert.equal(virtualHostMatch({ name: 'x' }, rc({ vhost: { domainName: '' } })), true);
  assert.equal(virtualHostMatch(vh, rc({ vhost: { domainName: 'b.default' } })), true);
  assert.equal(virtualHostMatch(vh, rc({ vhost: { domainName: 'c' } })), false);
  assert.equal(virtualHostMatch({ name: 'x' }, rc({ vhost: { domainName: 'c' } })), false);

  const route = { name: 'r1', route: { cluster: 'c' } };
  const redirect = { name: 'r2', redirect: { path_redirect: '/' } };
  const direct = { name: 'r3', direct_response: { status: 200 } };
  const routeCases: [
    NonNullable<NonNullable<EnvoyConfigObjectMatch['routeConfiguration']>['vhost']>['route'],
    boolean[],
    boolean,
  ][] = [
    [undefined, [true, true, true], false],
    [{}, [true, true, true], false],
    [{ name: 'r2' }, [false, true, false], true],
    [{ action: 'ANY' }, [true, true, true], false],
    [{ action: 'ROUTE' }, [true, false, false], true],
    [{ action: 'REDIRECT' }, [false, true, false], true],
    [{ action: 'DIRECT_RESPONSE' }, [false, false, true], true],
    [{ name: 'r1', action: 'REDIRECT' }, [false, false, false], true],
    [{ name: '' }, [true, true, true], false],
  ];
  for (const [m, want, has] of routeCases) {
    const patch = rc({ vhost: m === undefined ? {} : { route: m } });
    assert.deepEqual(
      [route, redirect, direct].map((r) => routeMatch(r, patch)),
      want,
      JSON.stringify(m),
    );
    assert.equal(hasRouteMatch(patch), has, `has ${JSON.stringify(m)}`);
  }
  assert.equal(routeMatch(route, p({})), true);
  for (const bare of [p({}), p({ routeConfiguration: {} }), p({ routeConfiguration: { vhost: {} } })]) {
    assert.equal(routeMatch(route, bare), true);
    assert.equal(hasRouteMatch(bare), false);
    assert.equal(virtualHostMatch(vh, bare), true);
  }
  assert.equal(hasRouteMatch(p({})), false);
});

test('cluster matches', () => {
  const c = { name: 'outbound|80|v1|reviews.default.svc.cluster.local' };
  const cases: [NonNullable<EnvoyConfigObjectMatch['cluster']>, boolean][] = [
    [{}, true],
    [{ portNumber: 80 }, true],
    [{ portNumber: 81 }, false],
    [{ service: 'reviews.default.svc.cluster.local' }, true],
    [{ service: 'ratings.default.svc.cluster.local' }, false],
    [{ subset: 'v1' }, true],
    [{ subset: 'v2' }, false],
    [{ name: 'outbound|80|v1|reviews.default.svc.cluster.local' }, true],
    // A name decides alone, as in Istio.
    [{ name: 'outbound|80|v1|reviews.default.svc.cluster.local', portNumber: 81 }, true],
    [{ name: 'BlackHoleCluster' }, false],
    [{ name: '', subset: '', service: '', portNumber: 0 }, true],
  ];
  for (const [m, want] of cases) assert.equal(clusterMatch(c, p({ cluster: m })), want, JSON.stringify(m));
  assert.equal(clusterMatch({ name: 'BlackHoleCluster' }, p({ cluster: { portNumber: 80 } })), false);
  assert.equal(clusterMatch({ name: 'BlackHoleCluster' }, p({ cluster: { service: 'x' } })), false);
  assert.equal(clusterMatch({ name: 'BlackHoleCluster' }, p({ cluster: { subset: 'v1' } })), false);
  assert.equal(clusterMatch({ name: 'BlackHoleCluster' }, p({})), true);
  assert.equal(clusterMatch({ name: 'BlackHoleCluster' }, p({ cluster: { subset: '', service: '' } })), true);
});
