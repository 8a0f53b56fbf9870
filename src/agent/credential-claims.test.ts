import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCredentialClaims } from './credential-claims.js';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (payload: object) => `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(payload)}.c2ln`;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const exp = (ms: number) => Math.floor(ms / 1000);

test('a credential names its namespace and service account; expired or foreign ones are refused with what to do', () => {
  const ok = readCredentialClaims(
    `${jwt({ ns: 'shop', sa: 'cart', kind: 'workload', exp: exp(NOW + 60_000) })}\n`,
    NOW,
  );
  assert.deepEqual(ok, {
    ok: true,
    claims: {
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
      expiresAt: new Date(exp(NOW + 60_000) * 1000),
    },
  });
  const noExp = readCredentialClaims(jwt({ ns: 'a', sa: 'b' }), NOW);
  assert.ok(noExp.ok && noExp.claims.expiresAt === undefined && noExp.claims.kind === '');

  const cases: [string, RegExp][] = [
    [
      jwt({ ns: 'shop', sa: 'cart', exp: exp(NOW) }),
      /expired at 2026-06-01T00:00:00\.000Z; get a new one \(`trellis token create --namespace shop --service-account cart`\)/,
    ],
    [jwt({ ns: 'shop', sa: 'cart', exp: exp(NOW - 1000) }), /expired/],
    [jwt({ sa: 'cart' }), /names no namespace and service account/],
    [jwt({ ns: 'shop', sa: '' }), /names no namespace/],
    [jwt({ ns: 1, sa: 'x' }), /names no namespace/],
    [jwt({ ns: 'x', sa: 2 }), /names no namespace/],
    [jwt({ ns: '', sa: 'b' }), /names no namespace/],
    ['not a token', /not a Trellis credential/],
    ['', /not a Trellis credential/],
  ];
  for (const [token, reason] of cases) {
    const r = readCredentialClaims(token, NOW);
    assert.equal(r.ok, false, token);
    assert.match(r.ok ? '' : r.reason, reason, token);
  }
});
