// `@request.auth.claims` header matches become what Istio generates (pilot route.go
// translateMetadataMatch + authz MetadataMatcherForJWTClaims): a dynamic metadata matcher on
// the jwt_authn payload, a string claim or a list holding the value; never a header matcher a
// client could send.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPMatchRequest, StringMatch } from '../../api/networking/types.js';
import { routeMatch } from './route-match.js';
import { validateRules } from '../../protocol/validate-rules.js';

const JWT = 'envoy.filters.http.jwt_authn';
const claim = (path: string[], sm: object) => ({
  filter: JWT,
  path: ['payload', ...path].map((key) => ({ key })),
  value: {
    or_match: { value_matchers: [{ list_match: { one_of: { string_match: sm } } }, { string_match: sm }] },
  },
});

test('claims translate to jwt_authn payload matchers: exact, prefix, regex, nested, both spellings', () => {
  const cases: [string, HTTPMatchRequest, object[]][] = [
    [
      'exact',
      { headers: { '@request.auth.claims.group': { exact: 'admin' } } },
      [claim(['group'], { exact: 'admin' })],
    ],
    [
      'prefix',
      { headers: { '@request.auth.claims.sub': { prefix: 'svc-' } } },
      [claim(['sub'], { prefix: 'svc-' })],
    ],
    [
      'regex',
      { headers: { '@request.auth.claims.email': { regex: '.*@example\\.com' } } },
      [claim(['email'], { safe_regex: { regex: '.*@example\\.com' } })],
    ],
    [
      'nested with dots',
      { headers: { '@request.auth.claims.org.team': { exact: 'eng' } } },
      [claim(['org', 'team'], { exact: 'eng' })],
    ],
    [
      'nested with brackets (a dot inside a name stays)',
      { headers: { '@request.auth.claims[realm.access][roles]': { exact: 'ops' } } },
      [claim(['realm.access', 'roles'], { exact: 'ops' })],
    ],
  ];
  for (const [what, m, want] of cases) {
    const out = routeMatch(m);
    assert.deepEqual(out.dynamic_metadata, want, what);
    assert.equal(out.headers, undefined, `${what}: no header matcher`);
  }
});

test('withoutHeaders on a claim inverts the matcher; {} is the claim being present', () => {
  const out = routeMatch({ withoutHeaders: { '@request.auth.claims.group': { exact: 'guest' } } });
  assert.deepEqual(out.dynamic_metadata, [{ ...claim(['group'], { exact: 'guest' }), invert: true }]);
  const present = routeMatch({ headers: { '@request.auth.claims.group': {} as StringMatch } });
  assert.deepEqual(present.dynamic_metadata, [
    { filter: JWT, path: [{ key: 'payload' }, { key: 'group' }], value: { present_match: true } },
  ]);
});

test('claims and headers together: the claim is metadata, the header stays a header', () => {
  const out = routeMatch({
    uri: { prefix: '/api' },
    headers: { '@request.auth.claims.group': { exact: 'admin' }, 'x-canary': { exact: 'yes' } },
  });
  assert.deepEqual(out.headers, [{ name: 'x-canary', string_match: { exact: 'yes' } }]);
  assert.equal(out.dynamic_metadata?.length, 1);
  assert.equal(out.prefix, '/api');
});

test('a generated claim match holds to Envoy validate rules', () => {
  const out = routeMatch({ headers: { '@request.auth.claims[org][team]': { exact: 'eng' } } });
  assert.deepEqual(validateRules('envoy.config.route.v3.RouteMatch', out), []);
});
