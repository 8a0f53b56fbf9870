/**
 * Istio's gateway route semantics on the VirtualServices derived from Gateway API routes
 * (`internal.istio.io/route-semantics: gateway`): a destination without a cluster (an invalid
 * backendRef's share) is answered 500, as the Gateway API requires, instead of Envoy's 503; other
 * VirtualServices keep Envoy's default, and gRPC clients get no such field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derive, resources } from '../../controllers/gateway-api/testing.js';
import { TYPE } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import { checkEncodes, config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const SERVICES = registry([service('a.shop.svc.cluster.local', [http(80)], { namespace: 'shop' })]);
const YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  hostnames: [shop.example.com]
  rules: [{ backendRefs: [{ name: a, port: 80 }, { name: ghost, port: 80 }] }]
`;

/** Every route action of every virtual host for `domain` the proxy gets. */
function actions(
  node: ReturnType<typeof proxy>,
  domain: string,
  extra = [] as ReturnType<typeof res>[],
): Loose[] {
  const out = derive(YAML, undefined, ['a.shop.svc.cluster.local']);
  const push = buildPushContext(config([...resources(YAML), ...(out.put ?? []), ...extra]), SERVICES, {});
  const rds = generate(push, node, TYPE.route) as Map<string, Loose>;
  checkEncodes(TYPE.route, rds);
  const found: Loose[] = [];
  for (const rc of rds.values())
    for (const vh of (rc.virtual_hosts ?? []) as Loose[])
      if ((vh.domains as string[]).some((d) => d.startsWith(domain)))
        for (const r of (vh.routes ?? []) as Loose[]) if (r.route) found.push(r.route);
  return found;
}

const gateway = proxy({
  type: 'router',
  namespace: 'infra',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'web' },
  id: 'router~10.0.0.9~gw-1.infra~infra.svc.cluster.local',
});

test('a derived route answers a missing cluster 500; the invalid share keeps its weight', () => {
  const [action] = actions(gateway, 'shop.example.com');
  assert.equal(action?.cluster_not_found_response_code, 'INTERNAL_SERVER_ERROR');
  assert.deepEqual(
    (action?.weighted_clusters?.clusters as Loose[]).map((c): unknown[] => [c.name, c.weight?.value]),
    [
      ['outbound|80||a.shop.svc.cluster.local', 1],
      ['outbound|80||invalid-backend.gateway-api.trellis.invalid', 1],
    ],
  );
});

test("an Istio VirtualService without the annotation keeps Envoy's 503", () => {
  const sidecar = proxy({ namespace: 'shop', id: 'sidecar~10.0.0.5~app-1.shop~shop.svc.cluster.local' });
  const vs = res('VirtualService', 'shop', 'plain', {
    hosts: ['a.shop.svc.cluster.local'],
    http: [{ route: [{ destination: { host: 'a.shop.svc.cluster.local', port: { number: 80 } } }] }],
  });
  for (const action of actions(sidecar, 'a.shop.svc.cluster.local', [vs]))
    assert.equal(action.cluster_not_found_response_code, undefined);
});
