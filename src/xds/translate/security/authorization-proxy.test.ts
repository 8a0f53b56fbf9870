/**
 * AuthorizationPolicy and RequestAuthentication through LDS: which listeners get which filters,
 * in which order, and which proxies a change pushes to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import { CONVERSION, messageType, TYPE } from '../../../protocol/protos.js';
import type { ProxyNode } from '../../proxy-node.js';
import { affectedTypes, buildPushContext, generate, generatorKey, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
  type Loose,
} from '../testkit.js';
import { JwksSnapshot } from './jwks-source.js';
import { GATEWAY_NAME_LABEL } from './policy-select.js';

const APP = 'app.default.svc.cluster.local';
const OTHER = 'other.default.svc.cluster.local';
const SERVICES = [service(APP, [http(8080), tcp(5432)]), service(OTHER, [http(8080)])];
const ENDPOINTS = [endpoint(APP, '10.0.0.1'), endpoint(OTHER, '10.0.0.2')];

const APP_PROXY = proxy({ labels: { app: 'app' }, ipAddresses: ['10.0.0.1'] });
const OTHER_PROXY = proxy({ labels: { app: 'other' }, ipAddresses: ['10.0.0.2'] });
const GATEWAY_PROXY = proxy({
  type: 'router',
  namespace: 'default',
  labels: { istio: 'ingressgateway', [GATEWAY_NAME_LABEL]: 'ingress' },
});

const GATEWAY = res('Gateway', 'default', 'ingress', {
  selector: { istio: 'ingressgateway' },
  servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
});

const ap = (ns: string, name: string, spec: object, extra: { annotations?: Record<string, string> } = {}) => {
  const r = res('AuthorizationPolicy', ns, name, spec);
  if (extra.annotations) r.metadata.annotations = extra.annotations;
  return r;
};

function push(resources: Resource[], jwks?: JwksSnapshot): PushContext {
  return buildPushContext(
    config([GATEWAY, ...resources]),
    registry(SERVICES, ENDPOINTS),
    jwks ? { security: { jwks } } : {},
  );
}

function listeners(p: PushContext, node: ProxyNode): Map<string, Loose> {
  const out = generate(p, node, TYPE.listener);
  checkEncodes(TYPE.listener, out);
  return out as Map<string, Loose>;
}

/** An Any decoded as plain fields (no oneof names), as the test cases write them. */
const unpack = (f: Loose): Loose => {
  const t = messageType(String(f.typed_config.type_url));
  return t.toObject(t.decode((f.typed_config.value as Uint8Array | undefined) ?? new Uint8Array(0)), {
    ...CONVERSION,
    oneofs: false,
  });
};

function httpFilters(l: Loose): { name: string; config: Loose }[] {
  const hcm = unpack(l.filter_chains[0].filters[0]);
  return (hcm.http_filters as Loose[]).map((f: Loose) => ({ name: String(f.name), config: unpack(f) }));
}

const summary = (fs: { name: string; config: Loose }[]) =>
  fs.map((f) =>
    f.name === 'envoy.filters.http.rbac' || f.name === 'envoy.filters.network.rbac'
      ? `rbac:${f.config.rules?.action ?? 'ALLOW'}${f.config.shadow_rules ? '+shadow' : ''}`
      : f.name.replace('envoy.filters.', ''),
  );

const ALL = [
  ap('default', 'allow-get', {
    selector: { matchLabels: { app: 'app' } },
    rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
  }),
  ap('default', 'deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
  ap('istio-system', 'audit', { action: 'AUDIT', rules: [{}] }),
  res('RequestAuthentication', 'default', 'jwt', {
    jwtRules: [{ issuer: 'iss', jwksUri: 'https://keys/jwks' }],
  }),
];

test('inbound HTTP: jwt_authn, then RBAC AUDIT, DENY, ALLOW, before the other filters', () => {
  const l = listeners(push(ALL), APP_PROXY).get('inbound|8080||');
  assert.deepEqual(summary(httpFilters(l)), [
    'http.jwt_authn',
    'rbac:LOG',
    'rbac:DENY',
    'rbac:ALLOW',
    'http.fault',
    'http.cors',
    'http.router',
  ]);
  const rbac = httpFilters(l).filter((f) => f.name === 'envoy.filters.http.rbac');
  assert.deepEqual(
    rbac.map((f) => Object.keys(f.config.rules.policies)),
    [
      ['ns[istio-system]-policy[audit]-rule[0]'],
      ['ns[default]-policy[deny-admin]-rule[0]'],
      ['ns[default]-policy[allow-get]-rule[0]'],
    ],
  );
});

test('inbound TCP: network RBAC before tcp_proxy; the ALLOW rule on methods is dropped, the DENY on paths widened', () => {
  const l = listeners(push(ALL), APP_PROXY).get('inbound|5432||');
  const filters = l.filter_chains[0].filters.map((f: Loose) => ({
    name: String(f.name),
    config: f.name.includes('rbac') ? unpack(f) : {},
  }));
  assert.deepEqual(summary(filters), ['rbac:LOG', 'rbac:DENY', 'rbac:ALLOW', 'network.tcp_proxy']);
  const [, deny, allow] = filters;
  assert.equal(deny.config.stat_prefix, 'tcp.');
  assert.deepEqual(deny.config.rules.policies['ns[default]-policy[deny-admin]-rule[0]'].permissions, [
    { and_rules: { rules: [{ any: true }] } },
  ]);
  // An ALLOW filter with no policies: every TCP connection is denied, as Istio does.
  assert.deepEqual(allow.config.rules.policies ?? {}, {});
});

test('a workload no policy selects gets no security filters', () => {
  const l = listeners(push([ALL[0] as Resource]), OTHER_PROXY).get('inbound|8080||');
  assert.deepEqual(summary(httpFilters(l)), ['http.fault', 'http.cors', 'http.router']);
});

test('no policies at all: listeners are exactly as before', () => {
  const before = listeners(buildPushContext(config([GATEWAY]), registry(SERVICES, ENDPOINTS)), APP_PROXY);
  const l = before.get('inbound|5432||');
  assert.deepEqual(
    (l.filter_chains[0].filters as Loose[]).map((f: Loose) => String(f.name)),
    ['envoy.filters.network.tcp_proxy'],
  );
});

test('an ALLOW policy without rules denies everything (a policy that never matches)', () => {
  const l = listeners(push([ap('default', 'nothing', {})]), APP_PROXY).get('inbound|8080||');
  const rbac = httpFilters(l).find((f) => f.name === 'envoy.filters.http.rbac');
  assert.deepEqual(rbac?.config.rules.policies, {
    'ns[default]-policy[nothing]-rule[0]': {
      permissions: [{ not_rule: { any: true } }],
      principals: [{ not_id: { any: true } }],
    },
  });
});

test('gateways get the HTTP filters of the policies that select them, first in the HCM', () => {
  const gw = ap('default', 'gw', {
    targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ingress' },
    action: 'DENY',
    rules: [{ from: [{ source: { remoteIpBlocks: ['1.2.3.4'] } }] }],
  });
  const out = listeners(push([gw]), GATEWAY_PROXY);
  const l = out.get('0.0.0.0_80');
  assert.deepEqual(summary(httpFilters(l)), ['rbac:DENY', 'http.fault', 'http.cors', 'http.router']);
  // The same policy leaves sidecars alone.
  assert.deepEqual(summary(httpFilters(listeners(push([gw]), APP_PROXY).get('inbound|8080||'))), [
    'http.fault',
    'http.cors',
    'http.router',
  ]);
});

test('CUSTOM without a usable provider denies what it selects, before authentication', () => {
  const custom = ap('default', 'ext', {
    action: 'CUSTOM',
    provider: { name: 'opa' },
    rules: [{ to: [{ operation: { paths: ['/x'] } }] }],
  });
  const l = listeners(push([custom, ALL[3] as Resource]), APP_PROXY).get('inbound|8080||');
  const fs = httpFilters(l);
  assert.deepEqual(summary(fs).slice(0, 2), ['rbac:DENY', 'http.jwt_authn']);
  assert.deepEqual(Object.keys(fs[0]?.config.rules.policies), [
    'istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action',
  ]);
});

test('dry-run policies are shadow rules: evaluated, not enforced', () => {
  const dry = ap(
    'default',
    'dry',
    { action: 'DENY', rules: [{}] },
    { annotations: { 'istio.io/dry-run': 'true' } },
  );
  const fs = httpFilters(listeners(push([dry]), APP_PROXY).get('inbound|8080||'));
  assert.deepEqual(summary(fs)[0], 'rbac:ALLOW+shadow');
  assert.equal(fs[0]?.config.rules, undefined);
  assert.equal(fs[0]?.config.shadow_rules.action, 'DENY');
  assert.equal(fs[0]?.config.shadow_rules_stat_prefix, 'istio_dry_run_deny_');
});

test('a policy change moves the LDS key of the proxies it selects, and only theirs', () => {
  const base = push([...ALL]);
  const changed = push([
    ap('default', 'allow-get', {
      selector: { matchLabels: { app: 'app' } },
      rules: [{ to: [{ operation: { methods: ['POST'] } }] }],
    }),
    ...ALL.slice(1),
  ]);
  assert.ok(affectedTypes(base, changed, APP_PROXY).has(TYPE.listener));
  assert.ok(!affectedTypes(base, changed, OTHER_PROXY).has(TYPE.listener));
  assert.ok(!affectedTypes(base, changed, GATEWAY_PROXY).has(TYPE.listener));
  assert.deepEqual([...affectedTypes(base, changed, APP_PROXY)], [TYPE.listener]);
  // A policy in another namespace touches nobody here.
  const elsewhere = push([...ALL, ap('shop', 'deny-all', { action: 'DENY', rules: [{}] })]);
  for (const p of [APP_PROXY, OTHER_PROXY, GATEWAY_PROXY])
    assert.equal(affectedTypes(base, elsewhere, p).size, 0);
});

test('a JWKS rotation moves the keys of the proxies whose policies inline it, and only theirs', () => {
  const selective = [
    res('RequestAuthentication', 'default', 'jwt', {
      selector: { matchLabels: { app: 'app' } },
      jwtRules: [{ issuer: 'iss', jwksUri: 'https://keys/jwks' }],
    }),
  ];
  const v1 = push(selective, new JwksSnapshot(new Map([['https://keys/jwks', '{"keys":[1]}']])));
  const v2 = push(selective, new JwksSnapshot(new Map([['https://keys/jwks', '{"keys":[2]}']])));
  assert.notEqual(generatorKey(v1, APP_PROXY, TYPE.listener), generatorKey(v2, APP_PROXY, TYPE.listener));
  assert.equal(generatorKey(v1, OTHER_PROXY, TYPE.listener), generatorKey(v2, OTHER_PROXY, TYPE.listener));
  const jwt = httpFilters(listeners(v2, APP_PROXY).get('inbound|8080||'))[0];
  assert.equal(jwt?.config.providers['origins-0'].local_jwks.inline_string, '{"keys":[2]}');
});

test('proxyless gRPC clients get no security filters (their server-side RBAC is not wired)', () => {
  const out = listeners(push(ALL), proxy({ type: 'grpc', labels: { app: 'app' } }));
  for (const l of out.values()) assert.ok(!JSON.stringify(l).includes('rbac'));
});

test('carried memo: a JWKS rotation or a policy edit in the next push is never served stale', () => {
  const ra = res('RequestAuthentication', 'default', 'jwt', {
    jwtRules: [{ issuer: 'iss', jwksUri: 'https://keys/jwks' }],
  });
  const cfg = config([GATEWAY, ra]);
  const reg = registry(SERVICES, ENDPOINTS);
  const jwks = (n: number) => new JwksSnapshot(new Map([['https://keys/jwks', `{"keys":[${n}]}`]]));
  const first = buildPushContext(cfg, reg, { security: { jwks: jwks(1) } });
  const inline = (p: PushContext) =>
    httpFilters(listeners(p, APP_PROXY).get('inbound|8080||'))[0]?.config.providers['origins-0'].local_jwks
      .inline_string as string;
  assert.equal(inline(first), '{"keys":[1]}');
  const second = buildPushContext(cfg, reg, { security: { jwks: jwks(2) } }, first);
  assert.equal(inline(second), '{"keys":[2]}');
  assert.deepEqual([...affectedTypes(first, second, APP_PROXY)], [TYPE.listener]);
  const edited = config(
    [GATEWAY, { ...ra, spec: { jwtRules: [{ issuer: 'other', jwksUri: 'https://keys/jwks' }] } }],
    2,
  );
  const third = buildPushContext(edited, reg, { security: { jwks: jwks(2) } }, second);
  assert.equal(
    httpFilters(listeners(third, APP_PROXY).get('inbound|8080||'))[0]?.config.providers['origins-0'].issuer,
    'other',
  );
});

test('with a server-side rate limit too: security filters first, rate limit before the router, route kept', () => {
  const limit = {
    ...res('RateLimit', 'default', 'app-limit', {
      hosts: ['app'],
      limits: [{ name: 'all', match: { path: { prefix: '/' } }, quota: { requests: 10, per: 'second' } }],
    }),
    apiVersion: 'trellis.io/v1alpha1',
  };
  const l = listeners(push([limit, ...ALL]), APP_PROXY).get('inbound|8080||');
  assert.deepEqual(summary(httpFilters(l)), [
    'http.jwt_authn',
    'rbac:LOG',
    'rbac:DENY',
    'rbac:ALLOW',
    'http.fault',
    'http.cors',
    'http.local_ratelimit',
    'http.router',
  ]);
  const hcm = unpack(l.filter_chains[0].filters[0]);
  assert.ok(JSON.stringify(hcm.route_config).includes('local_ratelimit'), 'the rate-limited route stays');
});

test('a Gateway-targeted policy pushes to that gateway only', () => {
  const gw = ap('default', 'gw', {
    targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ingress' },
    action: 'DENY',
    rules: [{}],
  });
  const base = push([]);
  const next = push([gw]);
  assert.deepEqual([...affectedTypes(base, next, GATEWAY_PROXY)], [TYPE.listener]);
  for (const p of [APP_PROXY, OTHER_PROXY]) assert.equal(affectedTypes(base, next, p).size, 0);
  const otherGateway = proxy({
    ...GATEWAY_PROXY,
    labels: { istio: 'ingressgateway', [GATEWAY_NAME_LABEL]: 'other' },
  });
  assert.equal(affectedTypes(base, next, otherGateway).size, 0);
});
