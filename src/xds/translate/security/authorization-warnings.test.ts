import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import { buildPushContext } from '../push-context.js';
import { config, endpoint, http, registry, res, service, tcp } from '../testkit.js';
import { securityWarnings } from './authorization-warnings.js';

const DB = 'db.default.svc.cluster.local';
const WEB = 'web.default.svc.cluster.local';

function warnings(resources: Resource[]): string[] {
  const push = buildPushContext(
    config(resources),
    registry(
      [service(DB, [tcp(5432)]), service(WEB, [http(80)])],
      [
        endpoint(DB, '10.0.0.1', { labels: { app: 'db' } }),
        endpoint(WEB, '10.0.0.2', { labels: { app: 'web' } }),
      ],
    ),
  );
  return securityWarnings(push).map((w) => `${w.resource.metadata.name} ${w.path}: ${w.message}`);
}

test('an ALLOW rule with HTTP fields on a workload with a TCP port: skipped there', () => {
  const w = warnings([
    res('AuthorizationPolicy', 'default', 'db', {
      selector: { matchLabels: { app: 'db' } },
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { from: [{ source: { namespaces: ['a'] } }] }],
    }),
  ]);
  assert.equal(w.length, 1);
  assert.match(
    w[0] as string,
    /^db spec\.rules\[0\]: this ALLOW rule uses methods.*allows no connection there/,
  );
});

test('a DENY rule with HTTP fields on a TCP workload: matches more', () => {
  const w = warnings([
    res('AuthorizationPolicy', 'istio-system', 'mesh', {
      action: 'DENY',
      rules: [{ from: [{ source: { requestPrincipals: ['*'] } }], to: [{ operation: { paths: ['/a'] } }] }],
    }),
  ]);
  assert.equal(w.length, 1);
  assert.match(w[0] as string, /this DENY rule uses paths, requestPrincipals.*matches every connection/);
});

test('no warning when the policy selects only HTTP workloads, or uses TCP fields only', () => {
  assert.deepEqual(
    warnings([
      res('AuthorizationPolicy', 'default', 'web', {
        selector: { matchLabels: { app: 'web' } },
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      }),
      res('AuthorizationPolicy', 'default', 'ports', {
        rules: [{ to: [{ operation: { ports: ['5432'] } }] }],
      }),
      res('AuthorizationPolicy', 'other', 'elsewhere', {
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      }),
    ]),
    [],
  );
});

test('targetRefs Trellis reads differently, and CUSTOM policies, are named', () => {
  const w = warnings([
    res('AuthorizationPolicy', 'default', 'svc', {
      targetRefs: [{ kind: 'Service', name: 'web' }],
      rules: [{}],
    }),
    res('RequestAuthentication', 'default', 'cls', {
      targetRef: { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' },
      jwtRules: [],
    }),
    res('AuthorizationPolicy', 'default', 'gw', {
      targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'ingress' },
      rules: [{}],
    }),
    res('AuthorizationPolicy', 'default', 'ext', {
      action: 'CUSTOM',
      provider: { name: 'opa' },
      rules: [{}],
    }),
  ]);
  assert.deepEqual(
    w.map((x) => x.slice(0, x.indexOf(':'))),
    ['ext spec.provider.name', 'svc spec.targetRefs[0]', 'cls spec.targetRef'],
  );
  assert.match(w[1] as string, /enforces it at the sidecars/);
  assert.match(w[2] as string, /selects nothing/);
});
