/**
 * AuthorizationPolicy -> LDS -> the proxy's RBAC engine (src/proxy/policy/rbac.ts): the RBAC
 * filters the control plane generates for a sidecar, decoded from the listener as a proxy gets
 * them, are compiled by the proxy's own engine and asked about requests, in filter order
 * (DENY, then ALLOW), including attempts to slip past a policy.
 *
 * Path normalization (`//admin`, `/a/../admin`, `%61dmin`) happens in the proxy's connection
 * manager before RBAC sees the path, and is tested there; these requests carry the normalized
 * path, as RBAC receives it.
 *
 * Not covered here because rbac.ts does not implement them yet: `uri_template` permissions
 * (`{*}`/`{**}` paths) and `or_match` value matchers (request.auth.audiences/presenter/claims).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAndValidate } from '../../../src/api/parse.js';
import { TrellisError } from '../../../src/core/errors.js';
import { SECURITY_EXAMPLES } from '../../../src/api/security/istio-examples.js';
import type { Resource } from '../../../src/api/resource.js';
import { CONVERSION, messageType, TYPE } from '../../../src/protocol/protos.js';
import { compileRbac, type RbacConfig, type RbacRequest } from '../../../src/proxy/policy/rbac.js';
import { buildPushContext, generate } from '../../../src/xds/translate/index.js';
import {
  config,
  endpoint,
  http,
  proxy,
  registry,
  service,
  tcp,
  type Loose,
} from '../../../src/xds/translate/testkit.js';

const APP = 'app.default.svc.cluster.local';
const SIDECAR = proxy({ labels: { app: 'app' }, ipAddresses: ['10.0.0.1'] });

function load(yaml: string): Resource[] {
  const docs = parseAndValidate(yaml, 'policies.yaml');
  const errors = docs.flatMap((d) => d.problems.filter((p) => p.severity === 'error'));
  assert.deepEqual(errors, []);
  return docs.flatMap((d) => (d.resource ? [d.resource] : []));
}

function decode(any: Loose): Record<string, Loose> {
  const t = messageType(String(any.type_url));
  return t.toObject(t.decode((any.value as Uint8Array | undefined) ?? new Uint8Array(0)), {
    ...CONVERSION,
    oneofs: false,
  });
}

/** The RBAC filter configs of a listener's first chain, in order, as the proxy decodes them. */
function rbacChain(yaml: string, listener: string): RbacConfig[] {
  const push = buildPushContext(
    config(load(yaml)),
    registry([service(APP, [http(8080), tcp(5432)])], [endpoint(APP, '10.0.0.1')]),
  );
  const l = generate(push, SIDECAR, TYPE.listener).get(listener) as Loose;
  assert.ok(l, `listener ${listener}`);
  const filters = l.filter_chains[0].filters as Loose[];
  const configs: Record<string, Loose>[] =
    filters[0].name === 'envoy.filters.network.http_connection_manager'
      ? (decode(filters[0].typed_config).http_filters as Loose[])
          .filter((f: Loose) => f.name === 'envoy.filters.http.rbac')
          .map((f: Loose) => decode(f.typed_config))
      : filters.filter((f) => f.name === 'envoy.filters.network.rbac').map((f) => decode(f.typed_config));
  return configs.map((c) => c.rules as RbacConfig);
}

/** Envoy's verdict for a request through the RBAC filters in order. */
function verdict(chain: RbacConfig[], request: Partial<RbacRequest>): string {
  const r: RbacRequest = {
    headers: { ':method': 'GET', ':authority': 'app', ':path': request.path ?? '/' },
    path: '/',
    directRemoteIp: '10.1.1.1',
    remoteIp: '10.1.1.1',
    destinationIp: '10.0.0.1',
    destinationPort: 8080,
    ...request,
  };
  for (const [i, c] of chain.entries()) {
    const d = compileRbac(c, `filter[${i}]`).decide(r);
    if (!d.allowed) return `denied by ${d.policy ?? `${c.action ?? 'ALLOW'} (no policy matched)`}`;
  }
  return 'allowed';
}

const HTTP = 'inbound|8080||';
const TCP = 'inbound|5432||';
const policy = (name: string, spec: string, ns = 'default') => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

test('DENY on /admin: exact and prefix paths, methods in any case the client sends', () => {
  const chain = rbacChain(
    policy(
      'deny-admin',
      `
action: DENY
rules: [{ to: [{ operation: { paths: [/admin, /admin/*] } }] }]`,
    ),
    HTTP,
  );
  const deny = 'denied by ns[default]-policy[deny-admin]-rule[0]';
  assert.equal(verdict(chain, { path: '/admin' }), deny);
  assert.equal(verdict(chain, { path: '/admin/users' }), deny);
  assert.equal(
    verdict(chain, { path: '/admin', headers: { ':method': 'DELETE', ':authority': 'app' } }),
    deny,
  );
  assert.equal(verdict(chain, { path: '/administrator' }), 'allowed', 'a prefix /admin/* is not /admin*');
  assert.equal(verdict(chain, { path: '/public' }), 'allowed');
});

test('ALLOW from a principal: only that exact SPIFFE identity over mTLS', () => {
  const chain = rbacChain(
    policy(
      'allow-frontend',
      `rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/frontend] } }] }]`,
    ),
    HTTP,
  );
  assert.equal(verdict(chain, { principal: 'spiffe://cluster.local/ns/default/sa/frontend' }), 'allowed');
  for (const principal of [
    'spiffe://cluster.local/ns/default/sa/frontend-evil',
    'spiffe://evil.local/ns/default/sa/frontend',
    'cluster.local/ns/default/sa/frontend',
    undefined,
  ]) {
    assert.equal(verdict(chain, { principal }), 'denied by ALLOW (no policy matched)', String(principal));
  }
});

test('namespaces and serviceAccounts match whole path segments of the identity', () => {
  const chain = rbacChain(
    policy(
      'ns',
      `
rules:
- from: [{ source: { namespaces: [shop] } }]
- from: [{ source: { serviceAccounts: [billing/worker] } }]`,
    ),
    HTTP,
  );
  assert.equal(verdict(chain, { principal: 'spiffe://cluster.local/ns/shop/sa/any' }), 'allowed');
  assert.equal(
    verdict(chain, { principal: 'spiffe://cluster.local/ns/shopping/sa/any' }).startsWith('denied'),
    true,
  );
  assert.equal(verdict(chain, { principal: 'spiffe://cluster.local/ns/billing/sa/worker' }), 'allowed');
  assert.ok(
    verdict(chain, { principal: 'spiffe://cluster.local/ns/billing/sa/worker2' }).startsWith('denied'),
  );
  assert.ok(verdict(chain, { principal: 'spiffe://cluster.local/ns/other/sa/worker' }).startsWith('denied'));
});

test('ipBlocks reads the peer address: a forged X-Forwarded-For does not escape a DENY', () => {
  const chain = rbacChain(
    policy('deny-ip', `action: DENY\nrules: [{ from: [{ source: { ipBlocks: [192.0.2.0/24] } }] }]`),
    HTTP,
  );
  assert.ok(verdict(chain, { directRemoteIp: '192.0.2.7', remoteIp: '203.0.113.1' }).startsWith('denied'));
  assert.equal(verdict(chain, { directRemoteIp: '198.51.100.1', remoteIp: '192.0.2.7' }), 'allowed');
  // An IPv4-mapped IPv6 peer is the same address.
  assert.ok(verdict(chain, { directRemoteIp: '::ffff:192.0.2.9' }).startsWith('denied'));
});

test('remoteIpBlocks reads the original client (remote_ip)', () => {
  const chain = rbacChain(
    policy(
      'deny-remote',
      `action: DENY\nrules: [{ from: [{ source: { remoteIpBlocks: [203.0.113.0/24] } }] }]`,
    ),
    HTTP,
  );
  assert.ok(verdict(chain, { directRemoteIp: '10.0.0.9', remoteIp: '203.0.113.5' }).startsWith('denied'));
  assert.equal(verdict(chain, { directRemoteIp: '203.0.113.5', remoteIp: '10.0.0.9' }), 'allowed');
});

test('hosts compare case-insensitively: EXAMPLE.com cannot dodge a DENY on example.com', () => {
  const chain = rbacChain(
    policy(
      'deny-host',
      `action: DENY\nrules: [{ to: [{ operation: { hosts: [example.com, "*.example.org"] } }] }]`,
    ),
    HTTP,
  );
  for (const host of ['example.com', 'EXAMPLE.com', 'api.Example.ORG']) {
    assert.ok(
      verdict(chain, { headers: { ':method': 'GET', ':authority': host } }).startsWith('denied'),
      host,
    );
  }
  assert.equal(verdict(chain, { headers: { ':method': 'GET', ':authority': 'example.net' } }), 'allowed');
});

test('notPaths and notMethods: everything but what is listed', () => {
  const chain = rbacChain(
    policy('only-health', `rules: [{ to: [{ operation: { notPaths: [/healthz], notMethods: [DELETE] } }] }]`),
    HTTP,
  );
  assert.equal(verdict(chain, { path: '/data' }), 'allowed');
  assert.ok(verdict(chain, { path: '/healthz' }).startsWith('denied'));
  assert.ok(
    verdict(chain, { path: '/data', headers: { ':method': 'DELETE', ':authority': 'a' } }).startsWith(
      'denied',
    ),
  );
});

test('request headers (named in any case) and ports in when conditions', () => {
  const chain = rbacChain(
    policy(
      'hdr',
      `
rules:
- to: [{ operation: { ports: ["8080"] } }]
  when: [{ key: "request.headers[X-Canary]", values: ["yes"] }]`,
    ),
    HTTP,
  );
  assert.equal(
    verdict(chain, { headers: { ':method': 'GET', ':authority': 'a', 'x-canary': 'yes' } }),
    'allowed',
  );
  assert.ok(
    verdict(chain, { headers: { ':method': 'GET', ':authority': 'a', 'x-canary': 'no' } }).startsWith(
      'denied',
    ),
  );
  assert.ok(verdict(chain, { headers: { ':method': 'GET', ':authority': 'a' } }).startsWith('denied'));
  assert.ok(
    verdict(chain, {
      destinationPort: 9090,
      headers: { ':method': 'GET', ':authority': 'a', 'x-canary': 'yes' },
    }).startsWith('denied'),
  );
});

test('requestPrincipals: only a verified token of that issuer and subject, never a header', () => {
  const chain = rbacChain(
    policy('jwt', `rules: [{ from: [{ source: { requestPrincipals: ["https://id.example/alice"] } }] }]`),
    HTTP,
  );
  const jwt = (iss: string, sub: string) => ({ 'envoy.filters.http.jwt_authn': { payload: { iss, sub } } });
  assert.equal(verdict(chain, { metadata: jwt('https://id.example', 'alice') }), 'allowed');
  assert.ok(verdict(chain, { metadata: jwt('https://id.example', 'bob') }).startsWith('denied'));
  assert.ok(verdict(chain, { metadata: jwt('https://evil.example', 'alice') }).startsWith('denied'));
  assert.ok(verdict(chain, { metadata: jwt('https://id.example/alice', '') }).startsWith('denied'));
  assert.ok(verdict(chain, {}).startsWith('denied'), 'no token, no identity');
  assert.ok(
    verdict(chain, { headers: { ':method': 'GET', ':authority': 'a', 'x-jwt-payload': 'alice' } }).startsWith(
      'denied',
    ),
  );
});

test('requestPrincipals ["*"] requires some verified token', () => {
  const chain = rbacChain(
    policy('any-jwt', `rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }]`),
    HTTP,
  );
  assert.equal(
    verdict(chain, { metadata: { 'envoy.filters.http.jwt_authn': { payload: { iss: 'i', sub: 's' } } } }),
    'allowed',
  );
  assert.ok(verdict(chain, {}).startsWith('denied'));
});

test('evaluation order: DENY wins over ALLOW; no ALLOW policy allows; ALLOW without rules allows nothing', () => {
  const both = rbacChain(
    policy('deny', `action: DENY\nrules: [{ to: [{ operation: { paths: [/x] } }] }]`) +
      policy('allow', `rules: [{ to: [{ operation: { paths: [/x, /y] } }] }]`),
    HTTP,
  );
  assert.equal(verdict(both, { path: '/x' }), 'denied by ns[default]-policy[deny]-rule[0]');
  assert.equal(verdict(both, { path: '/y' }), 'allowed');
  assert.ok(verdict(both, { path: '/z' }).startsWith('denied'));

  const denyOnly = rbacChain(
    policy('deny', `action: DENY\nrules: [{ to: [{ operation: { paths: [/x] } }] }]`),
    HTTP,
  );
  assert.equal(verdict(denyOnly, { path: '/z' }), 'allowed');

  const nothing = rbacChain(policy('allow-nothing', `{}`), HTTP);
  assert.ok(
    verdict(nothing, { path: '/', principal: 'spiffe://cluster.local/ns/default/sa/a' }).startsWith('denied'),
  );

  const everything = rbacChain(policy('allow-nothing', `{}`) + policy('allow-all', `rules: [{}]`), HTTP);
  assert.equal(verdict(everything, { path: '/' }), 'allowed');

  const audit = rbacChain(policy('audit', `action: AUDIT\nrules: [{}]`), HTTP);
  assert.equal(verdict(audit, { path: '/' }), 'allowed', 'AUDIT never decides');
});

test('a mesh-wide DENY in the root namespace applies to the workload', () => {
  const chain = rbacChain(policy('deny-all', `action: DENY\nrules: [{}]`, 'istio-system'), HTTP);
  assert.equal(verdict(chain, {}), 'denied by ns[istio-system]-policy[deny-all]-rule[0]');
});

test('TCP: a DENY on HTTP attributes denies every connection; an ALLOW on them allows none', () => {
  const deny = rbacChain(
    policy('deny-get', `action: DENY\nrules: [{ to: [{ operation: { methods: [GET] } }] }]`),
    TCP,
  );
  assert.equal(verdict(deny, { destinationPort: 5432 }), 'denied by ns[default]-policy[deny-get]-rule[0]');
  const allow = rbacChain(
    policy(
      'allow',
      `
rules:
- to: [{ operation: { methods: [GET] } }]
- from: [{ source: { principals: [cluster.local/ns/default/sa/db-client] } }]`,
    ),
    TCP,
  );
  assert.equal(
    verdict(allow, { destinationPort: 5432, principal: 'spiffe://cluster.local/ns/default/sa/db-client' }),
    'allowed',
  );
  assert.ok(
    verdict(allow, { destinationPort: 5432 }).startsWith('denied'),
    'the HTTP rule was dropped, not widened',
  );
});

/**
 * Envoy RBAC features the translation emits that rbac.ts does not implement yet (the proxy NACKs
 * them): path templates and JWT claim matchers. Anything else failing to compile is a bug.
 */
const KNOWN_PROXY_GAPS = [/uri_template/, /or_match/];

test("every Istio documentation example compiles in the proxy's RBAC engine, but for the known gaps", () => {
  const gaps = new Set<string>();
  let compiled = 0;
  for (const [name, kind, spec] of SECURITY_EXAMPLES) {
    if (kind !== 'AuthorizationPolicy') continue;
    const s = spec as { targetRef?: unknown; targetRefs?: unknown[] };
    if (s.targetRef !== undefined || s.targetRefs !== undefined) continue;
    const selector = { matchLabels: { app: 'app' } };
    const doc = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: example, namespace: default }
spec: ${JSON.stringify({ ...(spec as object), selector })}
`;
    for (const listener of [HTTP, TCP]) {
      for (const [i, c] of rbacChain(doc, listener).entries()) {
        try {
          compileRbac(c, `${name}[${i}]`);
          compiled++;
        } catch (err) {
          const message = err instanceof TrellisError ? `${err.path ?? ''}: ${err.message}` : String(err);
          assert.ok(
            KNOWN_PROXY_GAPS.some((g) => g.test(message)),
            `${name} (${listener}): ${message}`,
          );
          gaps.add(KNOWN_PROXY_GAPS.find((g) => g.test(message))!.source);
        }
      }
    }
  }
  assert.ok(compiled > 10, `compiled ${compiled}; gaps: ${[...gaps].join(', ')}`);
});

test('identity rules fail closed for plaintext clients: no certificate is no principal', () => {
  const notPrincipal = rbacChain(
    policy(
      'only-b',
      `action: DENY\nrules: [{ from: [{ source: { notPrincipals: [cluster.local/ns/a/sa/b] } }] }]`,
    ),
    HTTP,
  );
  assert.ok(verdict(notPrincipal, {}).startsWith('denied'), 'plaintext is not the allowed principal');
  assert.ok(verdict(notPrincipal, { principal: 'spiffe://cluster.local/ns/a/sa/c' }).startsWith('denied'));
  assert.equal(verdict(notPrincipal, { principal: 'spiffe://cluster.local/ns/a/sa/b' }), 'allowed');

  const anyMtls = rbacChain(
    policy('mtls-only', `rules: [{ from: [{ source: { principals: ["*"] } }] }]`),
    HTTP,
  );
  assert.ok(verdict(anyMtls, {}).startsWith('denied'));
  assert.equal(verdict(anyMtls, { principal: 'spiffe://x/ns/y/sa/z' }), 'allowed');

  const notNs = rbacChain(
    policy('ns-only', `action: DENY\nrules: [{ from: [{ source: { notNamespaces: [shop] } }] }]`),
    HTTP,
  );
  assert.ok(verdict(notNs, {}).startsWith('denied'));
  assert.equal(verdict(notNs, { principal: 'spiffe://cluster.local/ns/shop/sa/a' }), 'allowed');
});

test('a DENY on a path prefix covers what lies under it, not look-alikes', () => {
  const chain = rbacChain(
    policy('deny', `action: DENY\nrules: [{ to: [{ operation: { paths: ["/api/admin/*", "*.env"] } }] }]`),
    HTTP,
  );
  for (const path of ['/api/admin/', '/api/admin/users', '/api/admin/a/b', '/.env', '/x/prod.env'])
    assert.ok(verdict(chain, { path }).startsWith('denied'), path);
  for (const path of ['/api/admin', '/api/administrator', '/api/admins/x', '/x.envy'])
    assert.equal(verdict(chain, { path }), 'allowed', path);
});
