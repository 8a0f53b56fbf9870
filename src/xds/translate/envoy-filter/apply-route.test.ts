/**
 * EnvoyFilter ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE operations on generated RDS
 * (Istio's rc_patch.go semantics), at sidecars and gateways.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvoyConfigObjectPatch } from '../../../api/networking/envoy-filter.js';
import { TYPE } from '../../../protocol/protos.js';
import type { Loose } from '../testkit.js';
import { A, B, GATEWAY, gen } from './apply-fixture.js';

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
