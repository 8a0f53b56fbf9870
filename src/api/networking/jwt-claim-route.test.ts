// `@request.auth.claims` header matches: the claim path Istio reads from the name
// (pkg/jwt/routing_test.go's cases), and Istio's validation rule that only a VirtualService
// bound to gateways may route on claims.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';
import { jwtClaimPath, jwtClaimPathError } from './jwt-claim-route.js';

test('claim names: dots or brackets, nested, the prefix without case; anything else is a header', () => {
  const cases: [string, string[] | undefined][] = [
    ['@request.auth.claims.group', ['group']],
    ['@request.auth.claims.group.id', ['group', 'id']],
    ['@request.auth.claims[group]', ['group']],
    ['@request.auth.claims[group][id]', ['group', 'id']],
    ['@request.auth.claims[a.b]', ['a.b']],
    ['@Request.Auth.Claims.Group', ['Group']],
    ['@request.auth.claims', undefined],
    ['@request.auth.claims.', undefined],
    ['@request.auth.claims[]', undefined],
    ['@request.auth.claims[group', undefined],
    ['@request.auth.claimsgroup', undefined],
    ['x-jwt-claim-group', undefined],
    ['request.auth.claims.group', undefined],
    // As long as the prefix, then what a claim suffix looks like: still headers.
    ['x-request-auth-claim.group', undefined],
    ['@request.auth.claimsab]', undefined],
  ];
  for (const [name, want] of cases) assert.deepEqual(jwtClaimPath(name), want, name);
});

test('empty claim names in a path are refused, well-formed ones are not', () => {
  assert.match(jwtClaimPathError('@request.auth.claims.a..b') ?? '', /cannot be empty/);
  assert.match(jwtClaimPathError('@request.auth.claims[a][]') ?? '', /cannot be empty/);
  assert.equal(jwtClaimPathError('@request.auth.claims[a][b]'), undefined);
  assert.equal(jwtClaimPathError('x-group'), undefined);
});

function errors(spec: unknown): string[] {
  return validateResource({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 't', namespace: 'default' },
    spec,
  })
    .filter((p) => p.severity === 'error')
    .map(formatProblem);
}

const claimVs = (gateways: string[] | undefined, headers: object, key = 'headers') => ({
  hosts: ['shop.example.com'],
  ...(gateways ? { gateways } : {}),
  http: [
    {
      match: [{ [key]: headers }],
      route: [{ destination: { host: 'shop.default.svc.cluster.local' } }],
    },
  ],
});

test('a VirtualService bound to gateways may route on claims, in headers and withoutHeaders', () => {
  assert.deepEqual(
    errors(claimVs(['istio-system/public'], { '@request.auth.claims.group': { exact: 'admin' } })),
    [],
  );
  assert.deepEqual(errors(claimVs(['public'], { '@request.auth.claims[org][team]': { prefix: 'eng' } })), []);
  assert.deepEqual(
    errors(claimVs(['public'], { '@request.auth.claims.group': { exact: 'admin' } }, 'withoutHeaders')),
    [],
  );
  assert.deepEqual(errors(claimVs(['public'], { '@request.auth.claims.group': {} })), []);
});

test('claims are refused for the mesh (no gateways, or mesh among them), naming the field and the fix', () => {
  const field = 'spec.http[0].match[0].headers.@request.auth.claims.group';
  for (const gateways of [undefined, ['mesh'], ['public', 'mesh']]) {
    const got = errors(claimVs(gateways, { '@request.auth.claims.group': { exact: 'admin' } }));
    assert.equal(got.length, 1, JSON.stringify(gateways));
    assert.ok(got[0]!.startsWith(field), got[0]);
    assert.match(got[0]!, /only supported for gateways: list the gateways in spec.gateways, without mesh/);
  }
  const without = errors(
    claimVs(['mesh'], { '@request.auth.claims.group': { exact: 'a' } }, 'withoutHeaders'),
  );
  assert.equal(without.length, 1);
  assert.match(without[0]!, /withoutHeaders/);
});

test('malformed claim names are refused; a header named like a claim but not one is checked as a header', () => {
  const empty = errors(claimVs(['public'], { '@request.auth.claims.a..b': { exact: 'x' } }));
  assert.equal(empty.length, 1);
  assert.match(empty[0]!, /cannot be empty/);
  const notClaim = errors(claimVs(['public'], { '@request.auth.claimsgroup': { exact: 'x' } }));
  assert.equal(notClaim.length, 1);
  assert.match(notClaim[0]!, /header/);
});
