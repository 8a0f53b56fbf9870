// Which Istio HTTPMatchRequests apply where (port, sourceNamespace, gateways), and the
// remaining RouteMatch fields (scheme, case-insensitive string matchers). Istio: a match's
// `gateways` restricts it to those gateways (`mesh` for sidecars); an empty list restricts
// nothing; short gateway names are relative to the VirtualService's namespace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPMatchRequest, StringMatch } from '../../api/networking/types.js';
import { gatewayRef, matchApplies, routeMatch, stringMatcher, type MatchSite } from './route-match.js';

const site = (over: Partial<MatchSite> = {}): MatchSite => ({
  port: 80,
  gateways: ['mesh'],
  proxyNamespace: 'default',
  excluded: new Set(),
  ...over,
});

const applies = (m: HTTPMatchRequest, s: MatchSite = site(), id = 'm') => matchApplies(m, id, 'apps', s);

test('a match for a port or source namespace applies exactly there', () => {
  assert.equal(applies({ port: 80 }), true);
  assert.equal(applies({ port: 81 }), false);
  assert.equal(applies({ sourceNamespace: 'default' }), true);
  assert.equal(applies({ sourceNamespace: 'other' }), false);
  assert.equal(applies({}, site({ excluded: new Set(['m']) })), false);
});

test('match gateways: any listed gateway admits; an empty list admits everywhere', () => {
  assert.equal(applies({ gateways: [] }), true);
  assert.equal(applies({ gateways: [] }, site({ gateways: ['istio-system/ingress'] })), true);
  assert.equal(applies({ gateways: ['istio-system/ingress', 'mesh'] }), true);
  assert.equal(applies({ gateways: ['istio-system/ingress'] }), false);
  const gw = site({ gateways: ['apps/public'] });
  assert.equal(applies({ gateways: ['public'] }, gw), true);
  assert.equal(applies({ gateways: ['mesh'] }, gw), false);
});

test('gateway references: mesh stays mesh, namespace/name stays, a short name takes the VirtualService namespace', () => {
  assert.equal(gatewayRef('mesh', 'apps'), 'mesh');
  assert.equal(gatewayRef('istio-system/ingress', 'apps'), 'istio-system/ingress');
  assert.equal(gatewayRef('ingress', 'apps'), 'apps/ingress');
});

test('a scheme match is a :scheme header matcher', () => {
  assert.deepEqual(routeMatch({ scheme: { exact: 'https' } }).headers, [
    { name: ':scheme', string_match: { exact: 'https' } },
  ]);
});

test('string matchers carry ignore_case only when asked', () => {
  assert.deepEqual(stringMatcher({ prefix: '/a' }, true), { prefix: '/a', ignore_case: true });
  assert.deepEqual(stringMatcher({ prefix: '/a' }), { prefix: '/a' });
  assert.equal(stringMatcher({} as StringMatch, true), undefined);
});
