import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpFilter, RbacConfig, RbacPermission, RbacPrincipal } from '../../../protocol/envoy-types.js';
import { packAny, TYPE, unpackAny } from '../../../protocol/protos.js';
import { validateRules } from '../../../protocol/validate-rules.js';
import { pack } from '../envoy.js';
import { grpcAuthzFilters } from './rbac-for-grpc.js';
import { grpcRbacAllows, type RbacRequest } from './testkit.js';

const CALL = '/trellis.test.Echo/Call';
const OTHER_SVC = '/other.Svc/Get';

function rbac(rules: RbacConfig, name = 'envoy.filters.http.rbac'): HttpFilter {
  return { name, typed_config: pack(TYPE.rbac, { rules }) };
}

function policy(
  permissions: RbacPermission[],
  principals: RbacPrincipal[] = [{ any: true }],
): RbacConfig['policies'] {
  return { 'ns[default]-policy[p]-rule[0]': { permissions, principals } };
}

/** Istio's `to.paths: [/trellis.test.Echo/{*}]`. */
const TEMPLATE: RbacPermission = {
  uri_template: {
    name: 'uri-template',
    typed_config: packAny(TYPE.uriTemplateMatch, { path_template: '/trellis.test.Echo/{*}' }),
  },
};
/** Istio's `requestPrincipals` (JWT identity in dynamic metadata). */
const JWT: RbacPrincipal = {
  metadata: {
    filter: 'envoy.filters.http.jwt_authn',
    path: [{ key: 'payload' }, { key: 'iss' }],
    value: { string_match: { exact: 'https://issuer' } },
  },
};
const MALLORY: RbacPrincipal = { header: { name: 'x-user', string_match: { exact: 'mallory' } } };
const SNI: RbacPermission = { requested_server_name: { exact: 'echo.default.svc.cluster.local' } };

const alice: RbacRequest = { path: CALL, headers: { 'x-user': 'alice' } };
const mallory: RbacRequest = { path: CALL, headers: { 'x-user': 'mallory' } };
const otherSvc: RbacRequest = { path: OTHER_SVC };

/** [what, filter, request, gRPC's decision as sent, after grpcAuthzFilters] */
const CASES: [string, HttpFilter, RbacRequest, boolean, boolean][] = [
  // DENY with what gRPC cannot evaluate: as sent it never denies (the bypass); made safe, it does.
  [
    'DENY template: a matching path',
    rbac({ action: 'DENY', policies: policy([TEMPLATE]) }),
    alice,
    true,
    false,
  ],
  [
    'DENY template: widened to every path',
    rbac({ action: 'DENY', policies: policy([TEMPLATE]) }),
    otherSvc,
    true,
    false,
  ],
  [
    'DENY template for mallory: mallory',
    rbac({ action: 'DENY', policies: policy([TEMPLATE], [MALLORY]) }),
    mallory,
    true,
    false,
  ],
  [
    'DENY template for mallory: alice still passes',
    rbac({ action: 'DENY', policies: policy([TEMPLATE], [MALLORY]) }),
    alice,
    true,
    true,
  ],
  [
    'DENY requestPrincipals',
    rbac({ action: 'DENY', policies: policy([{ url_path: { path: { exact: CALL } } }], [JWT]) }),
    alice,
    true,
    false,
  ],
  ['DENY connection.sni', rbac({ action: 'DENY', policies: policy([SNI]) }), alice, true, false],
  [
    'DENY port range',
    rbac({ action: 'DENY', policies: policy([{ destination_port_range: { start: 7000, end: 8000 } }]) }),
    alice,
    true,
    false,
  ],
  [
    'DENY notPaths template (not_rule)',
    rbac({ action: 'DENY', policies: policy([{ not_rule: TEMPLATE }]) }),
    alice,
    false,
    false,
  ],
  // ALLOW with what gRPC cannot evaluate: it must not let more in.
  [
    'ALLOW requestPrincipals',
    rbac({ action: 'ALLOW', policies: policy([{ any: true }], [JWT]) }),
    alice,
    false,
    false,
  ],
  [
    'ALLOW notRequestPrincipals (not_id) lets everyone in as sent',
    rbac({ action: 'ALLOW', policies: policy([{ any: true }], [{ not_id: JWT }]) }),
    alice,
    true,
    false,
  ],
  ['ALLOW template', rbac({ action: 'ALLOW', policies: policy([TEMPLATE]) }), alice, false, false],
  // Header match forms gRPC lacks or reads differently.
  [
    'DENY contains_match',
    rbac({
      action: 'DENY',
      policies: policy([{ any: true }], [{ header: { name: 'x-user', contains_match: 'mall' } }]),
    }),
    mallory,
    true,
    false,
  ],
  [
    'DENY when x-token is absent (present_match: false): no token',
    rbac({
      action: 'DENY',
      policies: policy([{ any: true }], [{ header: { name: 'x-token', present_match: false } }]),
    }),
    alice,
    true,
    false,
  ],
  [
    'DENY when x-token is absent (present_match: false): with a token',
    rbac({
      action: 'DENY',
      policies: policy([{ any: true }], [{ header: { name: 'x-token', present_match: false } }]),
    }),
    { path: CALL, headers: { 'x-token': 't' } },
    false,
    true,
  ],
  [
    'ALLOW with a custom string matcher',
    rbac({
      action: 'ALLOW',
      policies: policy([
        { url_path: { path: { custom: { name: 'x', typed_config: pack(TYPE.router, {}) } } } },
      ]),
    }),
    alice,
    false,
    false,
  ],
  [
    'ALLOW unless x-user contains "mall" (invert): as sent lets mallory in',
    rbac({
      action: 'ALLOW',
      policies: policy(
        [{ any: true }],
        [{ header: { name: 'x-user', contains_match: 'mall', invert_match: true } }],
      ),
    }),
    mallory,
    true,
    false,
  ],
  // What gRPC evaluates is untouched.
  [
    'DENY header: mallory',
    rbac({ action: 'DENY', policies: policy([{ any: true }], [MALLORY]) }),
    mallory,
    false,
    false,
  ],
  [
    'DENY header: alice',
    rbac({ action: 'DENY', policies: policy([{ any: true }], [MALLORY]) }),
    alice,
    true,
    true,
  ],
  [
    'ALLOW path: match',
    rbac({ action: 'ALLOW', policies: policy([{ url_path: { path: { exact: CALL } } }]) }),
    alice,
    true,
    true,
  ],
  [
    'ALLOW path: other',
    rbac({ action: 'ALLOW', policies: policy([{ url_path: { path: { exact: CALL } } }]) }),
    otherSvc,
    false,
    false,
  ],
  ['ALLOW nothing', rbac({ action: 'ALLOW', policies: {} }), alice, false, false],
  [
    'ALLOW principal over mTLS',
    rbac({
      action: 'ALLOW',
      policies: policy(
        [{ any: true }],
        [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/client' } } }],
      ),
    }),
    { path: CALL, principal: 'spiffe://cluster.local/ns/default/sa/client' },
    true,
    true,
  ],
  // Istio's to.ports and ipBlocks (the test engine's server port is 7070, caller 10.0.0.9).
  [
    'DENY to.ports 7070',
    rbac({ action: 'DENY', policies: policy([{ destination_port: 7070 }]) }),
    alice,
    false,
    false,
  ],
  [
    'DENY to.ports 8080',
    rbac({ action: 'DENY', policies: policy([{ destination_port: 8080 }]) }),
    alice,
    true,
    true,
  ],
  [
    'DENY ipBlocks 10.0.0.0/24',
    rbac({
      action: 'DENY',
      policies: policy(
        [{ any: true }],
        [{ direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 24 } } }],
      ),
    }),
    alice,
    false,
    false,
  ],
  [
    'ALLOW ipBlocks 192.168.0.0/16',
    rbac({
      action: 'ALLOW',
      policies: policy(
        [{ any: true }],
        [{ direct_remote_ip: { address_prefix: '192.168.0.0', prefix_len: { value: 16 } } }],
      ),
    }),
    alice,
    false,
    false,
  ],
];

test("gRPC's own RBAC engine, before and after: DENY never loses a match, ALLOW never gains one", () => {
  for (const [what, filter, request, sent, safe] of CASES) {
    assert.equal(grpcRbacAllows([filter], request), sent, `${what}: as sent`);
    const out = grpcAuthzFilters([filter]);
    for (const f of out)
      assert.deepEqual(validateRules(TYPE.rbac, unpackAny(f.typed_config as never)), [], what);
    assert.equal(grpcRbacAllows(out, request), safe, `${what}: made safe`);
  }
});

test('filters gRPC evaluates fully come out with the same policies', () => {
  for (const [what, filter] of CASES.slice(-10)) {
    const [out] = grpcAuthzFilters([filter]);
    assert.deepEqual(unpackAny(out!.typed_config as never), unpackAny(filter.typed_config as never), what);
    assert.equal(out!.name, filter.name);
  }
});

test('conditions: an ALLOW with one matches nothing, a DENY drops it and matches more', () => {
  const condition = { const_expr: { bool_value: false } };
  const withCondition = (action: 'ALLOW' | 'DENY') =>
    rbac({
      action,
      policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition } },
    });
  assert.equal(grpcRbacAllows([withCondition('ALLOW')], alice), true, 'as sent: gRPC ignores the condition');
  assert.equal(grpcRbacAllows(grpcAuthzFilters([withCondition('ALLOW')]), alice), false);
  assert.equal(grpcRbacAllows(grpcAuthzFilters([withCondition('DENY')]), alice), false);
});

test('LOG and rule-less filters are left out; a matcher-only filter and other filters stay', () => {
  const log = rbac({ action: 'LOG', policies: policy([{ any: true }]) });
  const empty: HttpFilter = { name: 'envoy.filters.http.rbac', typed_config: pack(TYPE.rbac, {}) };
  const fault: HttpFilter = { name: 'envoy.filters.http.fault', typed_config: pack(TYPE.fault, {}) };
  assert.deepEqual(grpcAuthzFilters([log, empty]), []);
  const kept = grpcAuthzFilters([fault]);
  assert.equal(kept[0], fault);
  const matcherOnly: HttpFilter = {
    name: 'envoy.filters.http.rbac',
    typed_config: pack(TYPE.rbac, {
      matcher: { on_no_match: { action: { name: 'deny', typed_config: pack(TYPE.rbac, {}) } } },
    }),
  };
  assert.equal(grpcAuthzFilters([matcherOnly])[0], matcherOnly);
  assert.throws(
    () => grpcRbacAllows([matcherOnly], alice),
    /cannot parse/,
    'gRPC refuses it: the Listener is NACKed',
  );
});
