import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { compileRbac, type PermissionConfig, type PrincipalConfig, type RbacRequest } from './rbac.js';

const BASE: RbacRequest = {
  headers: { ':method': 'GET', ':path': '/api/items', ':authority': 'shop:9080', 'x-team': 'blue' },
  path: '/api/items',
  directRemoteIp: '10.1.2.3',
  remoteIp: '203.0.113.7',
  destinationIp: '10.9.0.5',
  destinationPort: 9080,
  principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
  sni: 'outbound_.9080_._.shop.default.svc.cluster.local',
  metadata: {
    'envoy.filters.http.jwt_authn': { payload: { iss: 'https://idp', sub: 'alice', groups: ['dev', 'ops'] } },
  },
};
const req = (over: Partial<RbacRequest> = {}): RbacRequest => ({ ...BASE, ...over });

/** One ALLOW policy with one permission and one principal. */
function allows(permission: PermissionConfig, principal: PrincipalConfig = { any: true }) {
  return compileRbac({
    action: 'ALLOW',
    policies: { p: { permissions: [permission], principals: [principal] } },
  });
}

test('permissions: each kind against a request that matches and one that does not', () => {
  const cases: [string, PermissionConfig, Partial<RbacRequest>, boolean][] = [
    ['any', { any: true }, {}, true],
    ['method header', { header: { name: ':method', string_match: { exact: 'GET' } } }, {}, true],
    [
      'method header',
      { header: { name: ':method', string_match: { exact: 'GET' } } },
      { headers: { ':method': 'POST' } },
      false,
    ],
    ['path exact', { url_path: { path: { exact: '/api/items' } } }, {}, true],
    [
      'path exact ignores nothing',
      { url_path: { path: { exact: '/api/items' } } },
      { path: '/api/items/1' },
      false,
    ],
    ['path prefix', { url_path: { path: { prefix: '/api/' } } }, {}, true],
    ['path prefix', { url_path: { path: { prefix: '/admin' } } }, {}, false],
    ['destination port', { destination_port: 9080 }, {}, true],
    ['destination port', { destination_port: 9090 }, {}, false],
    ['port range [start, end)', { destination_port_range: { start: 9000, end: 9080 } }, {}, false],
    ['port range [start, end)', { destination_port_range: { start: 9080, end: 9081 } }, {}, true],
    [
      'destination ip',
      { destination_ip: { address_prefix: '10.9.0.0', prefix_len: { value: 16 } } },
      {},
      true,
    ],
    [
      'destination ip',
      { destination_ip: { address_prefix: '10.8.0.0', prefix_len: { value: 16 } } },
      {},
      false,
    ],
    ['sni', { requested_server_name: { suffix: '.svc.cluster.local' } }, {}, true],
    ['sni absent', { requested_server_name: { suffix: '.svc.cluster.local' } }, { sni: undefined }, false],
    ['not', { not_rule: { url_path: { path: { prefix: '/admin' } } } }, {}, true],
    [
      'and: all',
      {
        and_rules: {
          rules: [
            { destination_port: 9080 },
            { header: { name: ':method', string_match: { exact: 'POST' } } },
          ],
        },
      },
      {},
      false,
    ],
    [
      'or: any',
      {
        or_rules: {
          rules: [{ destination_port: 1 }, { header: { name: ':method', string_match: { exact: 'GET' } } }],
        },
      },
      {},
      true,
    ],
  ];
  for (const [name, permission, over, want] of cases) {
    assert.equal(allows(permission).decide(req(over)).allowed, want, name);
  }
});

test('principals: mTLS identity, addresses, JWT metadata', () => {
  const JWT = 'envoy.filters.http.jwt_authn';
  const cases: [string, PrincipalConfig, Partial<RbacRequest>, boolean][] = [
    ['any authenticated peer', { authenticated: {} }, {}, true],
    ['any authenticated peer, plaintext', { authenticated: {} }, { principal: undefined }, false],
    [
      'another principal name',
      { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/shop/sa/other' } } },
      {},
      false,
    ],
    [
      'principal name',
      { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/shop/sa/frontend' } } },
      {},
      true,
    ],
    [
      'principal name, a plaintext client matches no name rule',
      { authenticated: { principal_name: { safe_regex: { regex: '.*' } } } },
      { principal: undefined },
      false,
    ],
    [
      'direct_remote_ip',
      { direct_remote_ip: { address_prefix: '10.1.0.0', prefix_len: { value: 16 } } },
      {},
      true,
    ],
    [
      'direct_remote_ip is the peer, not x-forwarded-for',
      { direct_remote_ip: { address_prefix: '203.0.113.7' } },
      {},
      false,
    ],
    [
      'remote_ip is the forwarded client',
      { remote_ip: { address_prefix: '203.0.113.0', prefix_len: { value: 24 } } },
      {},
      true,
    ],
    [
      'IPv4-mapped IPv6 peer',
      { direct_remote_ip: { address_prefix: '10.1.2.3' } },
      { directRemoteIp: '::ffff:10.1.2.3' },
      true,
    ],
    [
      'IPv6 range',
      { direct_remote_ip: { address_prefix: '2001:db8::', prefix_len: { value: 32 } } },
      { directRemoteIp: '2001:db8::1' },
      true,
    ],
    [
      'IPv6 range, IPv4 peer',
      { direct_remote_ip: { address_prefix: '::', prefix_len: { value: 0 } } },
      {},
      false,
    ],
    [
      'request principal (iss/sub) from the JWT payload',
      {
        metadata: {
          filter: JWT,
          path: [{ key: 'payload' }, { key: 'sub' }],
          value: { string_match: { exact: 'alice' } },
        },
      },
      {},
      true,
    ],
    [
      'claim list contains',
      {
        metadata: {
          filter: JWT,
          path: [{ key: 'payload' }, { key: 'groups' }],
          value: { list_match: { one_of: { string_match: { exact: 'ops' } } } },
        },
      },
      {},
      true,
    ],
    [
      'no JWT: a claim rule does not match',
      {
        metadata: {
          filter: JWT,
          path: [{ key: 'payload' }, { key: 'sub' }],
          value: { string_match: { exact: 'alice' } },
        },
      },
      { metadata: undefined },
      false,
    ],
    ['not_id', { not_id: { authenticated: {} } }, { principal: undefined }, true],
    ['header', { header: { name: 'x-team', string_match: { exact: 'blue' } } }, {}, true],
  ];
  for (const [name, principal, over, want] of cases) {
    assert.equal(allows({ any: true }, principal).decide(req(over)).allowed, want, name);
  }
});

test('actions: ALLOW allows only what a policy matches, DENY denies it, LOG decides nothing', () => {
  const policies = {
    'ns[shop]-policy[deny-admin]-rule[0]': {
      permissions: [{ url_path: { path: { prefix: '/admin' } } }],
      principals: [{ any: true }],
    },
  };
  const allow = compileRbac({ action: 'ALLOW', policies });
  const deny = compileRbac({ action: 'DENY', policies });
  const log = compileRbac({ action: 'LOG', policies });
  assert.deepEqual(allow.decide(req({ path: '/admin/x' })), {
    allowed: true,
    policy: 'ns[shop]-policy[deny-admin]-rule[0]',
  });
  assert.deepEqual(allow.decide(req()), { allowed: false, policy: undefined });
  assert.deepEqual(deny.decide(req({ path: '/admin/x' })), {
    allowed: false,
    policy: 'ns[shop]-policy[deny-admin]-rule[0]',
  });
  assert.equal(deny.decide(req()).allowed, true);
  assert.equal(log.decide(req({ path: '/admin/x' })).allowed, true);
  // No policies: an ALLOW engine allows nothing, a DENY engine denies nothing (Envoy).
  assert.equal(compileRbac({ action: 'ALLOW', policies: {} }).decide(req()).allowed, false);
  assert.equal(compileRbac({ action: 'DENY' }).decide(req()).allowed, true);
});

test('a policy needs a permission and a principal to match; the first match by name is reported', () => {
  const engine = compileRbac({
    action: 'DENY',
    policies: {
      b: { permissions: [{ any: true }], principals: [{ authenticated: {} }] },
      a: { permissions: [{ destination_port: 1 }], principals: [{ any: true }] },
      c: { permissions: [{ any: true }], principals: [{ any: true }] },
    },
  });
  assert.equal(engine.decide(req()).policy, 'b');
  assert.equal(engine.decide(req({ principal: undefined })).policy, 'c');
});

test('bad configs are refused with their field path', () => {
  const bad: [Parameters<typeof compileRbac>[0], string][] = [
    [
      { action: 'ALLOW', policies: { p: { permissions: [], principals: [{ any: true }] } } },
      'rules.policies["p"].permissions',
    ],
    [
      { action: 'ALLOW', policies: { p: { permissions: [{ any: true }] } } },
      'rules.policies["p"].principals',
    ],
    [
      {
        action: 'ALLOW',
        policies: { p: { permissions: [{ any: true, destination_port: 1 }], principals: [{ any: true }] } },
      },
      'rules.policies["p"].permissions[0]',
    ],
    [
      {
        action: 'ALLOW',
        policies: { p: { permissions: [{ uri_template: {} }], principals: [{ any: true }] } },
      },
      'rules.policies["p"].permissions[0].uri_template.typed_config',
    ],
    [
      {
        action: 'ALLOW',
        policies: {
          p: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: '10.0.0.x' } }] },
        },
      },
      'rules.policies["p"].principals[0].remote_ip.address_prefix',
    ],
    [
      {
        action: 'ALLOW',
        policies: {
          p: {
            permissions: [{ any: true }],
            principals: [{ remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 33 } } }],
          },
        },
      },
      'rules.policies["p"].principals[0].remote_ip.prefix_len',
    ],
    [{ action: 'CUSTOM' as 'ALLOW', policies: {} }, 'rules.action'],
  ];
  for (const [config, path] of bad) {
    assert.throws(
      () => compileRbac(config),
      (e: unknown) => isTrellisError(e) && e.path === path,
      path,
    );
  }
});

test('rule combinators and defaults', () => {
  const cases: [string, PermissionConfig, Partial<RbacRequest>, boolean][] = [
    [
      'and: every rule matches',
      { and_rules: { rules: [{ destination_port: 9080 }, { url_path: { path: { prefix: '/api' } } }] } },
      {},
      true,
    ],
    ['and: no rules matches everything', { and_rules: {} }, {}, true],
    ['or: no rules matches nothing', { or_rules: {} }, {}, false],
    ['range without start starts at 0', { destination_port_range: { end: 9081 } }, {}, true],
    ['range end is exclusive', { destination_port_range: { start: 1, end: 9080 } }, {}, false],
    ['range below start', { destination_port_range: { start: 9081, end: 9999 } }, {}, false],
    ['ip without prefix_len is one address', { destination_ip: { address_prefix: '10.9.0.5' } }, {}, true],
    ['ip without prefix_len is one address', { destination_ip: { address_prefix: '10.9.0.6' } }, {}, false],
  ];
  for (const [name, permission, over, want] of cases) {
    assert.equal(allows(permission).decide(req(over)).allowed, want, name);
  }
  // Any permission and any principal of a policy is enough.
  const several = compileRbac({
    action: 'ALLOW',
    policies: {
      p: {
        permissions: [{ destination_port: 1 }, { destination_port: 9080 }],
        principals: [{ authenticated: { principal_name: { exact: 'nobody' } } }, { any: true }],
      },
    },
  });
  assert.equal(several.decide(req()).allowed, true);
  // Policies are tried in name order, whatever order the map was written in.
  const order = compileRbac({
    action: 'DENY',
    policies: {
      z: { permissions: [{ any: true }], principals: [{ any: true }] },
      y: { permissions: [{ any: true }], principals: [{ any: true }] },
    },
  });
  assert.equal(order.decide(req()).policy, 'y');
});

test('metadata values: present, bool, null, invert, a path that leaves the object', () => {
  const F = 'envoy.filters.http.jwt_authn';
  const meta = { [F]: { payload: { email_verified: true, sub: 'alice', nothing: null, groups: ['dev'] } } };
  const at = (key: string, value: object, invert = false): PrincipalConfig => ({
    metadata: { filter: F, path: [{ key: 'payload' }, { key }], value, invert },
  });
  const cases: [string, PrincipalConfig, boolean][] = [
    ['present', at('sub', { present_match: true }), true],
    ['absent', at('missing', { present_match: true }), false],
    ['present_match false matches absence', at('missing', { present_match: false }), true],
    ['bool', at('email_verified', { bool_match: true }), true],
    ['bool mismatch', at('email_verified', { bool_match: false }), false],
    ['null', at('nothing', { null_match: {} }), true],
    ['null vs value', at('sub', { null_match: {} }), false],
    ['string on a non-string', at('groups', { string_match: { exact: 'dev' } }), false],
    [
      'list on a non-list',
      at('sub', { list_match: { one_of: { string_match: { exact: 'alice' } } } }),
      false,
    ],
    ['inverted', at('sub', { string_match: { exact: 'bob' } }, true), true],
    [
      'a path through a non-object',
      {
        metadata: {
          filter: F,
          path: [{ key: 'payload' }, { key: 'sub' }, { key: 'x' }],
          value: { present_match: true },
        },
      },
      false,
    ],
    [
      'another filter',
      { metadata: { filter: 'other', path: [{ key: 'payload' }], value: { present_match: true } } },
      false,
    ],
  ];
  for (const [name, principal, want] of cases) {
    assert.equal(allows({ any: true }, principal).decide(req({ metadata: meta })).allowed, want, name);
  }
  const bad: [PrincipalConfig, string][] = [
    [
      { metadata: { path: [{ key: 'a' }], value: { present_match: true } } },
      'rules.policies["p"].principals[0].metadata.filter',
    ],
    [
      { metadata: { filter: F, path: [{}], value: { present_match: true } } },
      'rules.policies["p"].principals[0].metadata.path[0].key',
    ],
    [{ metadata: { filter: F, path: [{ key: 'a' }] } }, 'rules.policies["p"].principals[0].metadata.value'],
    [
      { metadata: { filter: F, path: [{ key: 'a' }], value: { list_match: {} } } },
      'rules.policies["p"].principals[0].metadata.value.list_match.one_of',
    ],
    [{ any: false }, 'rules.policies["p"].principals[0].any'],
    [{ url_path: {} }, 'rules.policies["p"].principals[0].url_path.path'],
  ];
  for (const [principal, path] of bad) {
    assert.throws(
      () =>
        compileRbac(
          { action: 'ALLOW', policies: { p: { permissions: [{ any: true }], principals: [principal] } } },
          'rules',
        ),
      (e: unknown) => isTrellisError(e) && e.path === path,
      path,
    );
  }
  assert.throws(
    () =>
      compileRbac({
        policies: {
          p: { permissions: [{ destination_port_range: { start: 9, end: 8 } }], principals: [{ any: true }] },
        },
      }),
    (e: unknown) =>
      isTrellisError(e) && e.path === 'rules.policies["p"].permissions[0].destination_port_range',
  );
  // No action: ALLOW, Envoy's default.
  assert.equal(compileRbac({ policies: {} }).action, 'ALLOW');
});

test('edges: empty ranges, IPv6 prefixes, nulls and non-strings in metadata, LOG without a match', () => {
  assert.equal(
    allows({ destination_port_range: { start: 9080, end: 9080 } }).decide(req()).allowed,
    false,
    'an empty range',
  );
  assert.equal(
    allows(
      { any: true },
      { direct_remote_ip: { address_prefix: '2001:db8::', prefix_len: { value: 64 } } },
    ).decide(req({ directRemoteIp: '2001:db8::7' })).allowed,
    true,
    'an IPv6 prefix longer than 32',
  );
  assert.throws(
    () =>
      allows({ any: true }, { direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: -1 } } }),
    (e: unknown) =>
      isTrellisError(e) && e.path === 'rules.policies["p"].principals[0].direct_remote_ip.prefix_len',
  );
  assert.throws(
    () => allows({ any: false }),
    (e: unknown) => isTrellisError(e) && e.path === 'rules.policies["p"].permissions[0].any',
  );
  const F = 'envoy.filters.http.jwt_authn';
  const meta = { [F]: { payload: { nothing: null, exp: 5 } } };
  const through = allows(
    { any: true },
    {
      metadata: {
        filter: F,
        path: [{ key: 'payload' }, { key: 'nothing' }, { key: 'x' }],
        value: { present_match: true },
      },
    },
  );
  assert.equal(through.decide(req({ metadata: meta })).allowed, false, 'a path through null');
  const numeric = allows(
    { any: true },
    {
      metadata: {
        filter: F,
        path: [{ key: 'payload' }, { key: 'exp' }],
        value: { string_match: { prefix: '5' } },
      },
    },
  );
  assert.equal(numeric.decide(req({ metadata: meta })).allowed, false, 'a string matcher on a number');
  const log = compileRbac({
    action: 'LOG',
    policies: { p: { permissions: [{ destination_port: 1 }], principals: [{ any: true }] } },
  });
  assert.deepEqual(log.decide(req()), { allowed: true, policy: undefined });
});

test('principal combinators and a metadata permission', () => {
  const frontend: PrincipalConfig = { authenticated: { principal_name: { suffix: '/sa/frontend' } } };
  const inside: PrincipalConfig = {
    direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } },
  };
  const outside: PrincipalConfig = {
    direct_remote_ip: { address_prefix: '192.168.0.0', prefix_len: { value: 16 } },
  };
  const cases: [string, PrincipalConfig, boolean][] = [
    ['and_ids: both', { and_ids: { ids: [frontend, inside] } }, true],
    ['and_ids: one fails', { and_ids: { ids: [frontend, outside] } }, false],
    ['or_ids: one is enough', { or_ids: { ids: [outside, frontend] } }, true],
    ['or_ids: none', { or_ids: { ids: [outside] } }, false],
    ['url_path as a principal', { url_path: { path: { prefix: '/api' } } }, true],
  ];
  for (const [name, principal, want] of cases) {
    assert.equal(allows({ any: true }, principal).decide(req()).allowed, want, name);
  }
  const byClaim = allows({
    metadata: {
      filter: 'envoy.filters.http.jwt_authn',
      path: [{ key: 'payload' }, { key: 'iss' }],
      value: { string_match: { exact: 'https://idp' } },
    },
  });
  assert.equal(byClaim.decide(req()).allowed, true);
  assert.equal(byClaim.decide(req({ metadata: {} })).allowed, false);
});

test('the forms Istio emits: path templates, header presence and inversion, nested claims, not forms', () => {
  const template = (t: string): PermissionConfig => ({
    uri_template: {
      name: 'uri-template',
      typed_config: packAny(TYPE.uriTemplateMatch, { path_template: t }),
    },
  });
  const JWT = 'envoy.filters.http.jwt_authn';
  const meta = {
    [JWT]: { 'https://idp': { iss: 'https://idp', sub: 'alice', realm: { roles: ['admin', 'dev'] } } },
  };
  const cases: [string, PermissionConfig, Partial<RbacRequest>, boolean][] = [
    ['{*} template', template('/api/*'), { path: '/api/items' }, true],
    ['{*} template, one segment only', template('/api/*'), { path: '/api/items/1' }, false],
    ['{**} template', template('/api/**'), { path: '/api/items/1' }, true],
    ['not a template', { not_rule: template('/api/**') }, { path: '/api/x' }, false],
    ['header present', { header: { name: 'x-team', present_match: true } }, {}, true],
    ['header absent', { header: { name: 'x-none', present_match: true } }, {}, false],
    [
      'header present, inverted',
      { header: { name: 'x-none', present_match: true, invert_match: true } },
      {},
      true,
    ],
    [
      'header value, inverted, header absent',
      { header: { name: 'x-none', string_match: { exact: 'a' }, invert_match: true } },
      {},
      false,
    ],
    [
      ':authority ignore_case (Istio hosts)',
      { header: { name: ':authority', string_match: { prefix: 'SHOP', ignore_case: true } } },
      {},
      true,
    ],
    [
      'nested claim in a list (request.auth.claims[realm][roles])',
      {
        metadata: {
          filter: JWT,
          path: [{ key: 'https://idp' }, { key: 'realm' }, { key: 'roles' }],
          value: { list_match: { one_of: { string_match: { exact: 'admin' } } } },
        },
      },
      { metadata: meta },
      true,
    ],
    ['port range', { destination_port_range: { start: 9000, end: 9100 } }, {}, true],
    [
      'SNI',
      { requested_server_name: { exact: 'outbound_.9080_._.shop.default.svc.cluster.local' } },
      {},
      true,
    ],
  ];
  for (const [name, permission, over, want] of cases) {
    assert.equal(allows(permission).decide(req(over)).allowed, want, name);
  }
});

test('outside HTTP (network RBAC) path rules never match and headers are empty', () => {
  const tcp = req({ path: undefined, headers: {} });
  assert.equal(allows({ url_path: { path: { prefix: '/' } } }).decide(tcp).allowed, false);
  assert.equal(allows({ header: { name: ':method', present_match: true } }).decide(tcp).allowed, false);
  // A DENY on a path cannot deny a TCP connection, as in Envoy (Istio skips such rules for TCP).
  const deny = compileRbac({
    action: 'DENY',
    policies: { p: { permissions: [{ url_path: { path: { prefix: '/' } } }], principals: [{ any: true }] } },
  });
  assert.equal(deny.decide(tcp).allowed, true);
});

test('what the HTTP filter cannot honour is refused: destination_ip, CEL conditions, audit logging', () => {
  const refused: [Parameters<typeof compileRbac>[0], string][] = [
    [
      {
        policies: {
          p: {
            permissions: [{ destination_ip: { address_prefix: '10.0.0.1' } }],
            principals: [{ any: true }],
          },
        },
      },
      'rules.policies["p"].permissions[0].destination_ip',
    ],
    [
      {
        policies: {
          p: { permissions: [{ any: true }], principals: [{ any: true }], condition: { id: '1' } },
        },
      },
      'rules.policies["p"].condition',
    ],
    [{ policies: {}, audit_logging_options: { audit_condition: 'ON_DENY' } }, 'rules.audit_logging_options'],
    [
      { policies: { p: { permissions: [{ any: true }], principals: [{ filter_state: { key: 'k' } }] } } },
      'rules.policies["p"].principals[0].filter_state',
    ],
  ];
  for (const [config, path] of refused) {
    assert.throws(
      () => compileRbac(config, 'rules', { destinationIp: false }),
      (e: unknown) => isTrellisError(e) && e.path === path,
      path,
    );
  }
  // The network filter knows the destination address.
  const dst = compileRbac({
    policies: {
      p: { permissions: [{ destination_ip: { address_prefix: '10.9.0.5' } }], principals: [{ any: true }] },
    },
  });
  assert.equal(dst.decide(req()).allowed, true);
});

test("or_match: Istio's claim matcher (a list holding the value, or the value itself)", () => {
  const F = 'envoy.filters.http.jwt_authn';
  const claim = (key: string): PrincipalConfig => ({
    metadata: {
      filter: F,
      path: [{ key: 'payload' }, { key }],
      value: {
        or_match: {
          value_matchers: [
            { list_match: { one_of: { string_match: { exact: 'admin' } } } },
            { string_match: { exact: 'admin' } },
          ],
        },
      },
    },
  });
  const meta = { [F]: { payload: { groups: ['dev', 'admin'], role: 'admin', other: 'dev', none: [] } } };
  const cases: [string, boolean][] = [
    ['groups', true],
    ['role', true],
    ['other', false],
    ['none', false],
    ['missing', false],
  ];
  for (const [key, want] of cases)
    assert.equal(allows({ any: true }, claim(key)).decide(req({ metadata: meta })).allowed, want, key);
  assert.throws(
    () =>
      allows(
        { any: true },
        {
          metadata: {
            filter: F,
            path: [{ key: 'a' }],
            value: { or_match: { value_matchers: [{ present_match: true }] } },
          },
        },
      ),
    (e: unknown) =>
      isTrellisError(e) &&
      e.path === 'rules.policies["p"].principals[0].metadata.value.or_match.value_matchers',
  );
});
