// Istio's JwtFilter(clearRouteCache: proxy is not a sidecar): gateways choose the route again
// once a token verifies, so `@request.auth.claims` routes can match; sidecars do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Loose } from '../testkit.js';
import { JwksSnapshot } from './jwks-source.js';
import { jwtAuthentication } from './request-authn.js';

const RULES = [
  { issuer: 'https://a.example', jwks: '{"keys":[]}' },
  { issuer: 'https://b.example', jwks: '{"keys":[]}' },
];

test('every provider clears the route cache at a gateway, none at a sidecar', () => {
  const gateway = jwtAuthentication(RULES, new JwksSnapshot(), true) as Loose;
  const sidecar = jwtAuthentication(RULES, new JwksSnapshot()) as Loose;
  for (const p of Object.values(gateway.providers as Record<string, Loose>))
    assert.equal(p.clear_route_cache, true);
  for (const p of Object.values(sidecar.providers as Record<string, Loose>))
    assert.equal(p.clear_route_cache, undefined);
});
