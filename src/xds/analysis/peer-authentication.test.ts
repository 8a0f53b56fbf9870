import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { buildPushContext } from '../translate/push-context.js';
import { config, endpoint, http, registry, res, service } from '../translate/testkit.js';
import { mtlsConflicts, unmatchedPeerAuthentications } from './peer-authentication.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.shop.svc.cluster.local';
const SERVICES = [service(REVIEWS, [http(9080)]), service(RATINGS, [http(9080)])];
const ENDPOINTS = [
  endpoint(REVIEWS, '10.0.0.1', {
    labels: { app: 'reviews', version: 'v1' },
    ports: { 'http-9080': 8080 },
    workloadName: 'reviews-v1',
  }),
  endpoint(REVIEWS, '10.0.0.2', { labels: { app: 'reviews', version: 'v2' }, workloadName: 'reviews-v2' }),
  endpoint(RATINGS, '10.0.1.1', { labels: { app: 'ratings' }, workloadName: 'ratings' }),
];

const pa = (namespace: string, name: string, mode: string | undefined, extra: object = {}) =>
  res('PeerAuthentication', namespace, name, { ...(mode ? { mtls: { mode } } : {}), ...extra });
const dr = (namespace: string, name: string, spec: object) =>
  res('DestinationRule', namespace, name, { host: 'reviews.default.svc.cluster.local', ...spec });

function conflicts(resources: Resource[]): string[] {
  const push = buildPushContext(config(resources), registry(SERVICES, ENDPOINTS));
  return mtlsConflicts(push).map(
    (w) => `${w.resource.metadata.namespace}/${w.resource.metadata.name} ${w.path}`,
  );
}

const STRICT_MESH = pa('istio-system', 'default', 'STRICT');

const conflictCases: { name: string; resources: Resource[]; want: string[] }[] = [
  {
    name: 'STRICT mesh, a rule disabling TLS to reviews',
    resources: [STRICT_MESH, dr('default', 'r', { trafficPolicy: { tls: { mode: 'DISABLE' } } })],
    want: ['default/r spec.trafficPolicy.tls.mode'],
  },
  {
    name: 'tls without a mode is DISABLE too',
    resources: [STRICT_MESH, dr('default', 'r', { trafficPolicy: { tls: { sni: 'x' } } })],
    want: ['default/r spec.trafficPolicy.tls'],
  },
  {
    name: 'SIMPLE sends no client certificate: refused too',
    resources: [STRICT_MESH, dr('default', 'r', { trafficPolicy: { tls: { mode: 'SIMPLE' } } })],
    want: ['default/r spec.trafficPolicy.tls.mode'],
  },
  {
    name: 'MUTUAL may carry a mesh certificate: not reported',
    resources: [
      STRICT_MESH,
      dr('default', 'r', { trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'c' } } }),
    ],
    want: [],
  },
  {
    name: 'ISTIO_MUTUAL to a STRICT workload is right',
    resources: [STRICT_MESH, dr('default', 'r', { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })],
    want: [],
  },
  {
    name: 'no tls: auto mTLS handles it',
    resources: [STRICT_MESH, dr('default', 'r', { trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } })],
    want: [],
  },
  {
    name: 'DISABLE to a PERMISSIVE workload is fine',
    resources: [dr('default', 'r', { trafficPolicy: { tls: { mode: 'DISABLE' } } })],
    want: [],
  },
  {
    name: 'only the STRICT workload counts: a workload policy on v1',
    resources: [
      pa('default', 'v1', 'STRICT', { selector: { matchLabels: { version: 'v1' } } }),
      dr('default', 'r', {
        trafficPolicy: { tls: { mode: 'DISABLE' } },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ],
    // The service-wide cluster reaches v1 too; the v2 subset does not.
    want: ['default/r spec.trafficPolicy.tls.mode'],
  },
  {
    name: 'a subset that overrides to ISTIO_MUTUAL is fine, the port-level DISABLE is not',
    resources: [
      STRICT_MESH,
      dr('default', 'r', {
        trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'DISABLE' } }] },
        subsets: [
          { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
        ],
      }),
    ],
    want: ['default/r spec.trafficPolicy.portLevelSettings[0].tls.mode'],
  },
  {
    name: 'port-level PeerAuthentication on the target port: DISABLE there, no conflict',
    resources: [
      pa('default', 'reviews', 'STRICT', {
        selector: { matchLabels: { app: 'reviews' } },
        portLevelMtls: { '8080': { mode: 'DISABLE' }, '9080': { mode: 'DISABLE' } },
      }),
      dr('default', 'r', {
        trafficPolicy: { tls: { mode: 'DISABLE' } },
        subsets: [{ name: 'v1', labels: { version: 'v1' } }],
      }),
    ],
    // v1 listens on 8080 (DISABLE there); v2 on 9080 (DISABLE too): nothing is STRICT.
    want: [],
  },
  {
    name: 'a rule shadowed by a closer one is not in use',
    resources: [
      STRICT_MESH,
      dr('istio-system', 'root', { trafficPolicy: { tls: { mode: 'DISABLE' } } }),
      dr('default', 'own', { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } }),
    ],
    // Clients in default and shop use `own` (the service's namespace); istio-system clients use `root`.
    want: ['istio-system/root spec.trafficPolicy.tls.mode'],
  },
];

for (const c of conflictCases) {
  test(`IST0113 STRICT vs DestinationRule DISABLE: ${c.name}`, () => {
    assert.deepEqual(conflicts(c.resources), c.want);
  });
}

test('IST0113 message names the host, port, workloads and the fix', () => {
  const push = buildPushContext(
    config([STRICT_MESH, dr('default', 'r', { trafficPolicy: { tls: { mode: 'DISABLE' } } })]),
    registry(SERVICES, ENDPOINTS),
  );
  const [w] = mtlsConflicts(push);
  assert.ok(w);
  assert.match(w.message, /^\[IST0113\]/);
  assert.match(w.message, /reviews\.default\.svc\.cluster\.local port 9080/);
  assert.match(w.message, /reviews-v1, reviews-v2 STRICT/);
  assert.match(w.message, /ISTIO_MUTUAL/);
});

function unmatched(resources: Resource[]): string[] {
  const push = buildPushContext(config(resources), registry(SERVICES, ENDPOINTS));
  return unmatchedPeerAuthentications(push).map(
    (w) => `${w.resource.metadata.namespace}/${w.resource.metadata.name} ${w.path}`,
  );
}

test('IST0127: a PeerAuthentication selecting no workload, and a selector one in the root namespace', () => {
  assert.deepEqual(
    unmatched([
      pa('default', 'ok', 'STRICT', { selector: { matchLabels: { app: 'reviews' } } }),
      pa('default', 'typo', 'STRICT', { selector: { matchLabels: { app: 'reveiws' } } }),
      pa('shop', 'wrong-ns', 'STRICT', { selector: { matchLabels: { app: 'reviews' } } }),
      pa('default', 'too-narrow', 'STRICT', { selector: { matchLabels: { app: 'reviews', version: 'v3' } } }),
      pa('default', 'namespace-wide', 'STRICT'),
      pa('istio-system', 'mesh', 'STRICT'),
      pa('istio-system', 'root-selector', 'STRICT', { selector: { matchLabels: { app: 'reviews' } } }),
    ]),
    [
      'default/typo spec.selector.matchLabels',
      'shop/wrong-ns spec.selector.matchLabels',
      'default/too-narrow spec.selector.matchLabels',
      'istio-system/root-selector spec.selector',
    ],
  );
});
