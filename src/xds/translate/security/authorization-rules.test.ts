import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthorizationRule } from '../../../api/security/types.js';
import { TYPE, unpackAny, type AnyMessage } from '../../../protocol/protos.js';
import { validateRules } from '../../../protocol/validate-rules.js';
import type { Loose } from '../testkit.js';
import { translateRule, type RbacAction } from './authorization-rules.js';

const JWT = 'envoy.filters.http.jwt_authn';
const claim = (name: string, value: Loose) => ({
  metadata: { filter: JWT, path: [{ key: 'payload' }, { key: name }], value },
});
const listOr = (value: Loose) => ({
  or_match: { value_matchers: [{ list_match: { one_of: value } }, value] },
});
const auth = (m: Loose) => ({ authenticated: { principal_name: m } });
const hdr = (name: string, m: Loose) => ({ header: { name, ...m } });

/** One field, one value: the matcher inside `and[or[...]]` of the permission or principal. */
function only(rule: AuthorizationRule, side: 'permissions' | 'principals', forTcp = false): Loose {
  const t = translateRule(rule, 'ns1', forTcp, 'ALLOW');
  assert.ok(t.policy, 'rule kept');
  const top = (t.policy as Loose)[side][0];
  const and = side === 'permissions' ? top.and_rules.rules : top.and_ids.ids;
  assert.equal(and.length, 1, JSON.stringify(and));
  const first = and[0];
  const or = first.or_rules?.rules ?? first.or_ids?.ids;
  if (or !== undefined) {
    assert.equal(or.length, 1);
    return or[0];
  }
  return first;
}

const from = (source: object): AuthorizationRule => ({ from: [{ source }] });
const to = (operation: object): AuthorizationRule => ({ to: [{ operation }] });
const when = (key: string, values: string[]): AuthorizationRule => ({ when: [{ key, values }] });

const CASES: [string, AuthorizationRule, 'permissions' | 'principals', Loose][] = [
  // principals: spiffe:// prefix, `*` forms
  [
    'principal exact',
    from({ principals: ['cluster.local/ns/a/sa/b'] }),
    'principals',
    auth({ exact: 'spiffe://cluster.local/ns/a/sa/b' }),
  ],
  [
    'principal prefix',
    from({ principals: ['cluster.local/ns/a/*'] }),
    'principals',
    auth({ prefix: 'spiffe://cluster.local/ns/a/' }),
  ],
  [
    'principal suffix',
    from({ principals: ['*/sa/b'] }),
    'principals',
    auth({ safe_regex: { regex: 'spiffe://.*/sa/b' } }),
  ],
  ['principal presence', from({ principals: ['*'] }), 'principals', auth({ safe_regex: { regex: '.+' } })],
  ['namespace', from({ namespaces: ['foo'] }), 'principals', auth({ safe_regex: { regex: '.*/ns/foo/.*' } })],
  [
    'namespace wildcard, regex quoted',
    from({ namespaces: ['te.st-*'] }),
    'principals',
    auth({ safe_regex: { regex: '.*/ns/te\\.st-.*/.*' } }),
  ],
  [
    'serviceAccount in the policy namespace',
    from({ serviceAccounts: ['sa1'] }),
    'principals',
    auth({ safe_regex: { regex: 'spiffe://.+/ns/ns1/(.+/|)sa/sa1(/.+)?' } }),
  ],
  [
    'serviceAccount NS/NAME',
    from({ serviceAccounts: ['other/sa.1'] }),
    'principals',
    auth({ safe_regex: { regex: 'spiffe://.+/ns/other/(.+/|)sa/sa\\.1(/.+)?' } }),
  ],
  [
    'trustDomain exact',
    from({ trustDomains: ['td.local'] }),
    'principals',
    auth({ prefix: 'spiffe://td.local/' }),
  ],
  ['trustDomain presence', from({ trustDomains: ['*'] }), 'principals', auth({ prefix: 'spiffe://' })],
  [
    'trustDomain wildcard',
    from({ trustDomains: ['*.corp'] }),
    'principals',
    auth({ safe_regex: { regex: 'spiffe://[^/]*\\.corp/.*' } }),
  ],
  [
    'ipBlocks address',
    from({ ipBlocks: ['10.1.2.3'] }),
    'principals',
    { direct_remote_ip: { address_prefix: '10.1.2.3', prefix_len: { value: 32 } } },
  ],
  [
    'ipBlocks CIDR',
    from({ ipBlocks: ['10.0.0.0/16'] }),
    'principals',
    { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 16 } } },
  ],
  [
    'ipBlocks IPv6',
    from({ ipBlocks: ['2001:db8::1'] }),
    'principals',
    { direct_remote_ip: { address_prefix: '2001:db8::1', prefix_len: { value: 128 } } },
  ],
  [
    'remoteIpBlocks',
    from({ remoteIpBlocks: ['1.2.3.0/24'] }),
    'principals',
    { remote_ip: { address_prefix: '1.2.3.0', prefix_len: { value: 24 } } },
  ],
  [
    'requestPrincipal ISS/SUB split at the last /',
    from({ requestPrincipals: ['https://issuer.example/x/user1'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { exact: 'https://issuer.example/x' } }),
          claim('sub', { string_match: { exact: 'user1' } }),
        ],
      },
    },
  ],
  [
    'requestPrincipal any',
    from({ requestPrincipals: ['*'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { safe_regex: { regex: '.+' } } }),
          claim('sub', { string_match: { safe_regex: { regex: '.+' } } }),
        ],
      },
    },
  ],
  [
    'requestPrincipal ISS/*',
    from({ requestPrincipals: ['iss/*'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { exact: 'iss' } }),
          claim('sub', { string_match: { safe_regex: { regex: '.+' } } }),
        ],
      },
    },
  ],
  [
    'requestPrincipal */SUB',
    from({ requestPrincipals: ['*/sub1'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { safe_regex: { regex: '.+' } } }),
          claim('sub', { string_match: { exact: 'sub1' } }),
        ],
      },
    },
  ],
  [
    'requestPrincipal prefix of the subject',
    from({ requestPrincipals: ['iss/user-*'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { exact: 'iss' } }),
          claim('sub', { string_match: { prefix: 'user-' } }),
        ],
      },
    },
  ],
  [
    'requestPrincipal suffix of the issuer',
    from({ requestPrincipals: ['*.example/u'] }),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { suffix: '.example' } }),
          claim('sub', { string_match: { exact: 'u' } }),
        ],
      },
    },
  ],
  // operations
  [
    'host exact, case-insensitive',
    to({ hosts: ['Example.COM'] }),
    'permissions',
    hdr(':authority', { string_match: { exact: 'Example.COM', ignore_case: true } }),
  ],
  [
    'host wildcard',
    to({ hosts: ['*.example.com'] }),
    'permissions',
    hdr(':authority', { string_match: { suffix: '.example.com', ignore_case: true } }),
  ],
  [
    'host prefix',
    to({ hosts: ['api.*'] }),
    'permissions',
    hdr(':authority', { string_match: { prefix: 'api.', ignore_case: true } }),
  ],
  ['host presence', to({ hosts: ['*'] }), 'permissions', hdr(':authority', { present_match: true })],
  ['port', to({ ports: ['8080'] }), 'permissions', { destination_port: 8080 }],
  ['method', to({ methods: ['GET'] }), 'permissions', hdr(':method', { string_match: { exact: 'GET' } })],
  ['path exact', to({ paths: ['/admin'] }), 'permissions', { url_path: { path: { exact: '/admin' } } }],
  ['path prefix', to({ paths: ['/admin/*'] }), 'permissions', { url_path: { path: { prefix: '/admin/' } } }],
  ['path suffix', to({ paths: ['*.php'] }), 'permissions', { url_path: { path: { suffix: '.php' } } }],
  [
    'path presence',
    to({ paths: ['*'] }),
    'permissions',
    { url_path: { path: { safe_regex: { regex: '.+' } } } },
  ],
  // when
  [
    'request.headers',
    when('request.headers[X-Token]', ['abc*']),
    'principals',
    hdr('X-Token', { string_match: { prefix: 'abc' } }),
  ],
  [
    'source.ip',
    when('source.ip', ['10.0.0.0/8']),
    'principals',
    { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } },
  ],
  [
    'remote.ip',
    when('remote.ip', ['1.1.1.1']),
    'principals',
    { remote_ip: { address_prefix: '1.1.1.1', prefix_len: { value: 32 } } },
  ],
  [
    'source.namespace',
    when('source.namespace', ['foo']),
    'principals',
    auth({ safe_regex: { regex: '.*/ns/foo/.*' } }),
  ],
  [
    'source.principal',
    when('source.principal', ['cluster.local/ns/a/sa/b']),
    'principals',
    auth({ exact: 'spiffe://cluster.local/ns/a/sa/b' }),
  ],
  [
    'source.serviceAccount',
    when('source.serviceAccount', ['ns2/sa']),
    'principals',
    auth({ safe_regex: { regex: 'spiffe://.+/ns/ns2/(.+/|)sa/sa(/.+)?' } }),
  ],
  ['source.trustDomain', when('source.trustDomain', ['td']), 'principals', auth({ prefix: 'spiffe://td/' })],
  [
    'request.auth.principal',
    when('request.auth.principal', ['iss/sub']),
    'principals',
    {
      and_ids: {
        ids: [
          claim('iss', { string_match: { exact: 'iss' } }),
          claim('sub', { string_match: { exact: 'sub' } }),
        ],
      },
    },
  ],
  [
    'request.auth.audiences',
    when('request.auth.audiences', ['aud1']),
    'principals',
    claim('aud', listOr({ string_match: { exact: 'aud1' } })),
  ],
  [
    'request.auth.presenter',
    when('request.auth.presenter', ['app*']),
    'principals',
    claim('azp', listOr({ string_match: { prefix: 'app' } })),
  ],
  [
    'request.auth.claims',
    when('request.auth.claims[groups]', ['admin']),
    'principals',
    claim('groups', listOr({ string_match: { exact: 'admin' } })),
  ],
  [
    'request.auth.claims nested',
    when('request.auth.claims[realm][roles]', ['a', 'b']),
    'principals',
    {
      metadata: {
        filter: JWT,
        path: [{ key: 'payload' }, { key: 'realm' }, { key: 'roles' }],
        value: listOr({
          or_match: { value_matchers: [{ string_match: { exact: 'a' } }, { string_match: { exact: 'b' } }] },
        }),
      },
    },
  ],
  [
    'destination.ip',
    when('destination.ip', ['10.0.0.1']),
    'permissions',
    { destination_ip: { address_prefix: '10.0.0.1', prefix_len: { value: 32 } } },
  ],
  ['destination.port', when('destination.port', ['9090']), 'permissions', { destination_port: 9090 }],
  [
    'connection.sni',
    when('connection.sni', ['*.example.com']),
    'permissions',
    { requested_server_name: { suffix: '.example.com' } },
  ],
  [
    'experimental.envoy.filters',
    when('experimental.envoy.filters.network.mysql_proxy[db.table]', ['[update]']),
    'permissions',
    {
      metadata: {
        filter: 'envoy.filters.network.mysql_proxy',
        path: [{ key: 'db.table' }],
        value: { list_match: { one_of: { string_match: { exact: 'update' } } } },
      },
    },
  ],
];

for (const [name, rule, side, want] of CASES) {
  test(`AuthorizationPolicy field -> RBAC: ${name}`, () => {
    assert.deepEqual(only(rule, side), want);
  });
}

/** Decoded uri_template config of a permission. */
function template(p: Loose): string {
  return unpackAny<{ path_template: string }>(p.uri_template.typed_config as AnyMessage).path_template;
}

test('path templates use the uri_template matcher with {*} -> * and {**} -> **', () => {
  const p = only(to({ paths: ['/api/{*}/items/{**}'] }), 'permissions');
  assert.equal(p.uri_template.name, 'uri-template');
  assert.equal(p.uri_template.typed_config.type_url, TYPE.uriTemplateMatch);
  assert.equal(template(p), '/api/*/items/**');
});

test('notX values are a not of an or, beside the values', () => {
  const t = translateRule(to({ methods: ['GET', 'HEAD'], notPaths: ['/a', '/b*'] }), 'ns', false, 'ALLOW');
  assert.deepEqual((t.policy as Loose).permissions[0].and_rules.rules, [
    {
      or_rules: {
        rules: [
          hdr(':method', { string_match: { exact: 'GET' } }),
          hdr(':method', { string_match: { exact: 'HEAD' } }),
        ],
      },
    },
    {
      not_rule: {
        or_rules: {
          rules: [{ url_path: { path: { exact: '/a' } } }, { url_path: { path: { prefix: '/b' } } }],
        },
      },
    },
  ]);
});

test('notRequestPrincipals and notValues of extended keys are a not of the combined matcher', () => {
  const t = translateRule(
    {
      from: [{ source: { notRequestPrincipals: ['*'] } }],
      when: [{ key: 'request.auth.claims[g]', notValues: ['x'] }],
    },
    'ns',
    false,
    'DENY',
  );
  const ids = (t.policy as Loose).principals[0].and_ids.ids;
  assert.equal(ids.length, 2);
  assert.ok(ids[0].not_id.and_ids, 'not of the iss/sub and');
  assert.deepEqual(ids[1], { not_id: claim('g', listOr({ string_match: { exact: 'x' } })) });
});

test("fields keep Istio's order, when conditions last; every to and every from is one entry", () => {
  const t = translateRule(
    {
      from: [{ source: { ipBlocks: ['1.1.1.1'], principals: ['a'] } }, { source: { namespaces: ['n'] } }],
      to: [{ operation: { ports: ['80'], hosts: ['h'], paths: ['/p'], methods: ['GET'] } }],
      when: [
        { key: 'destination.port', values: ['80'] },
        { key: 'source.ip', values: ['2.2.2.2'] },
      ],
    },
    'ns',
    false,
    'ALLOW',
  );
  const p = t.policy as Loose;
  const kinds = (xs: Loose[]) =>
    xs.map((x) => Object.keys(x.or_rules?.rules?.[0] ?? x.or_ids?.ids?.[0] ?? x)[0]);
  assert.deepEqual(kinds(p.permissions[0].and_rules.rules), [
    'header',
    'header',
    'url_path',
    'destination_port',
    'destination_port',
  ]);
  assert.equal(p.principals.length, 2);
  assert.deepEqual(kinds(p.principals[0].and_ids.ids), [
    'authenticated',
    'direct_remote_ip',
    'direct_remote_ip',
  ]);
  assert.deepEqual(kinds(p.principals[1].and_ids.ids), ['authenticated', 'direct_remote_ip']);
});

test('an empty rule matches every request; multiple values are an or', () => {
  const t = translateRule({}, 'ns', false, 'ALLOW');
  assert.deepEqual(t.policy, {
    permissions: [{ and_rules: { rules: [{ any: true }] } }],
    principals: [{ and_ids: { ids: [{ any: true }] } }],
  });
});

// --- TCP: Istio's rule for HTTP-only attributes -----------------------------------------------

const HTTP_ONLY: [string, AuthorizationRule][] = [
  ['hosts', to({ hosts: ['a'] })],
  ['methods', to({ methods: ['GET'] })],
  ['paths', to({ paths: ['/a'] })],
  ['notPaths', to({ notPaths: ['/a'] })],
  ['requestPrincipals', from({ requestPrincipals: ['*'] })],
  ['request.headers', when('request.headers[x]', ['1'])],
  ['request.auth.claims', when('request.auth.claims[x]', ['1'])],
  ['request.auth.audiences', when('request.auth.audiences', ['1'])],
  ['request.auth.presenter', when('request.auth.presenter', ['1'])],
  ['request.auth.principal', when('request.auth.principal', ['a/b'])],
];

for (const [name, rule] of HTTP_ONLY) {
  test(`TCP: an ALLOW rule using ${name} is dropped (allows less)`, () => {
    const t = translateRule(rule, 'ns', true, 'ALLOW');
    assert.equal(t.policy, undefined);
    assert.equal(t.httpOnly.length, 1);
  });
  for (const action of ['DENY', 'LOG'] as RbacAction[]) {
    test(`TCP: a ${action} rule using only ${name} matches every connection (denies more)`, () => {
      const t = translateRule(rule, 'ns', true, action);
      assert.deepEqual(t.policy, {
        permissions: [{ and_rules: { rules: [{ any: true }] } }],
        principals: [{ and_ids: { ids: [{ any: true }] } }],
      });
      assert.equal(t.httpOnly.length, 1);
    });
  }
}

test('TCP: a DENY rule keeps its TCP fields and drops only the HTTP ones', () => {
  const t = translateRule(
    {
      from: [{ source: { namespaces: ['bad'] } }],
      to: [{ operation: { ports: ['5432'], methods: ['GET'] } }],
    },
    'ns',
    true,
    'DENY',
  );
  assert.deepEqual(t.httpOnly, ['methods']);
  assert.deepEqual((t.policy as Loose).permissions[0].and_rules.rules, [
    { or_rules: { rules: [{ destination_port: 5432 }] } },
  ]);
  assert.deepEqual((t.policy as Loose).principals[0].and_ids.ids, [
    { or_ids: { ids: [auth({ safe_regex: { regex: '.*/ns/bad/.*' } })] } },
  ]);
});

test('TCP: an ALLOW rule with TCP fields only is kept whole', () => {
  const t = translateRule(
    {
      from: [{ source: { principals: ['a'], ipBlocks: ['1.0.0.0/8'] } }],
      to: [{ operation: { ports: ['1'] } }],
    },
    'ns',
    true,
    'ALLOW',
  );
  assert.ok(t.policy);
  assert.deepEqual(t.httpOnly, []);
});

test("every translated rule holds to Envoy's validate rules", () => {
  const all = [...CASES.map((c) => c[1]), to({ paths: ['/x/{*}/{**}'] }), ...HTTP_ONLY.map((c) => c[1])];
  for (const rule of all) {
    for (const forTcp of [false, true]) {
      for (const action of ['ALLOW', 'DENY', 'LOG'] as RbacAction[]) {
        const t = translateRule(rule, 'ns', forTcp, action);
        if (t.policy === undefined) continue;
        const findings = validateRules(TYPE.rbac, { rules: { action, policies: { p: t.policy } } });
        assert.deepEqual(findings, [], JSON.stringify(rule));
      }
    }
  }
});

test('an attribute the validator would refuse fails closed: ALLOW rule dropped, DENY rule widened', () => {
  const rule = when('destination.labels[app]', ['x']);
  assert.equal(translateRule(rule, 'ns', false, 'ALLOW').policy, undefined);
  assert.deepEqual(translateRule(rule, 'ns', false, 'DENY').policy?.permissions, [
    { and_rules: { rules: [{ any: true }] } },
  ]);
});
