/**
 * Gateway API resources from another namespace, through the derivation and the translation as
 * proxies see them (bypass attempts): a GAMMA consumer route routes only its own namespace's
 * callers; a Gateway API Gateway is served only by proxies in its own namespace.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { derive, resources } from '../../controllers/gateway-api/testing.js';
import { TYPE } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import { config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const SERVICES = registry([
  service('payments.prod.svc.cluster.local', [http(8080)], { namespace: 'prod' }),
  service('evil.attacker.svc.cluster.local', [http(8080)], { namespace: 'attacker' }),
  service('canary.prod.svc.cluster.local', [http(8080)], { namespace: 'prod' }),
  service('shop.infra.svc.cluster.local', [http(80)], { namespace: 'infra' }),
]);

function push(yaml: string, extra: Resource[] = []) {
  const out = derive(yaml);
  return buildPushContext(config([...resources(yaml), ...(out.put ?? []), ...extra]), SERVICES, {});
}

/** `domain -> clusters` of every virtual host the proxy gets, over all its route configs. */
function routes(p: ReturnType<typeof push>, node: ProxyNode): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rc of (generate(p, node, TYPE.route) as Map<string, Loose>).values()) {
    for (const vh of (rc.virtual_hosts ?? []) as Loose[]) {
      const clusters = ((vh.routes ?? []) as Loose[]).map((r) => String(r.route?.cluster ?? ''));
      for (const d of vh.domains as string[]) out.set(d, [...(out.get(d) ?? []), ...clusters]);
    }
  }
  return out;
}

const sidecar = (ns: string) =>
  proxy({ namespace: ns, id: `sidecar~10.0.0.5~app-1.${ns}~${ns}.svc.cluster.local` });

const gammaRoute = (ns: string, backend: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: ${ns} }
spec:
  parentRefs: [{ group: "", kind: Service, name: payments, namespace: prod, port: 8080 }]
  rules: [{ backendRefs: [{ name: ${backend}, namespace: ${backend === 'evil' ? 'attacker' : 'prod'}, port: 8080 }] }]
`;

const PAYMENTS = 'payments.prod.svc.cluster.local';
const cluster = (host: string) => `outbound|8080||${host}`;

test("GAMMA: a consumer route in another namespace routes only that namespace's callers", () => {
  const rows: [string, string, string, string][] = [
    // what, routes, caller namespace, cluster payments goes to
    [
      'consumer route: a frontend caller is not affected',
      gammaRoute('attacker', 'evil'),
      'frontend',
      PAYMENTS,
    ],
    ['consumer route: a caller in prod is not affected', gammaRoute('attacker', 'evil'), 'prod', PAYMENTS],
    [
      'consumer route: a caller in its namespace is',
      gammaRoute('attacker', 'evil'),
      'attacker',
      'evil.attacker.svc.cluster.local',
    ],
    [
      'producer route: every caller',
      gammaRoute('prod', 'canary'),
      'frontend',
      'canary.prod.svc.cluster.local',
    ],
    [
      'producer route: the consumer namespace too',
      gammaRoute('prod', 'canary'),
      'attacker',
      'canary.prod.svc.cluster.local',
    ],
  ];
  for (const [what, yaml, ns, want] of rows) {
    const got = routes(push(yaml), sidecar(ns));
    const vh = [...got.entries()].find(([d]) => d.startsWith(PAYMENTS));
    assert.ok(vh, `${what}: payments has a virtual host`);
    assert.deepEqual([...new Set(vh[1])], [cluster(want)], what);
  }
});

const GATEWAYS = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP, hostname: "shop.example.com" }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: infra }
spec:
  parentRefs: [{ name: web }]
  hostnames: ["shop.example.com"]
  rules: [{ backendRefs: [{ name: shop, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: attacker }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP, hostname: "login.example.com" }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: phish, namespace: attacker }
spec:
  parentRefs: [{ name: web }]
  hostnames: ["login.example.com"]
  rules: [{ backendRefs: [{ name: evil, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: claim, namespace: attacker, annotations: { trellis.io/gateway-selector: "istio=ingressgateway" } }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP, hostname: "pay.example.com" }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: claim, namespace: attacker }
spec:
  parentRefs: [{ name: claim }]
  hostnames: ["pay.example.com"]
  rules: [{ backendRefs: [{ name: evil, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: istio-system, annotations: { trellis.io/gateway-selector: "istio=ingressgateway" } }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP, hostname: "edge.example.com", allowedRoutes: { namespaces: { from: All } } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: edge, namespace: infra }
spec:
  parentRefs: [{ name: edge, namespace: istio-system }]
  hostnames: ["edge.example.com"]
  rules: [{ backendRefs: [{ name: shop, port: 80 }] }]
`;

const router = (ns: string, labels: Record<string, string>) =>
  proxy({ type: 'router', namespace: ns, labels, id: `router~10.0.0.9~gw-1.${ns}~${ns}.svc.cluster.local` });
const NAMED_WEB = { 'gateway.networking.k8s.io/gateway-name': 'web' };
const INGRESS = { istio: 'ingressgateway' };

test("an Istio VirtualService from another namespace cannot bind to a Gateway API Gateway's derived Gateway", () => {
  const bind = (ns: string, host: string) =>
    res('VirtualService', ns, `bind-${ns}`, {
      hosts: [host],
      gateways: ['infra/web-istio-autogenerated-k8s-gateway-http'],
      http: [
        { route: [{ destination: { host: 'evil.attacker.svc.cluster.local', port: { number: 8080 } } }] },
      ],
    });
  const rows: [string, Resource, string[]][] = [
    ['from attacker, a host of its own', bind('attacker', 'shop.example.com'), ['shop.example.com']],
    [
      'from infra itself',
      bind('infra', 'shop.example.com'),
      ['shop.example.com', 'evil.attacker.svc.cluster.local'],
    ],
  ];
  for (const [what, vs, want] of rows) {
    const got = routes(push(GATEWAYS, [vs]), router('infra', NAMED_WEB));
    const clusters = [...new Set(got.get('shop.example.com') ?? [])].map((c) => c.split('|')[3]);
    assert.deepEqual(
      clusters,
      want.map((h) => (h === 'shop.example.com' ? 'shop.infra.svc.cluster.local' : h)),
      what,
    );
  }
});

test('a Gateway API Gateway is served only by proxies in its own namespace (root-namespace selectors anywhere)', () => {
  // A user-written Istio Gateway keeps Istio's rule: it selects proxies in any namespace.
  const istio = res('Gateway', 'apps', 'istio-written', {
    selector: INGRESS,
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*/istio.example.com'] }],
  });
  const vs = res('VirtualService', 'apps', 'istio-written', {
    hosts: ['istio.example.com'],
    gateways: ['apps/istio-written'],
    http: [{ route: [{ destination: { host: 'shop.infra.svc.cluster.local' } }] }],
  });
  const p = push(GATEWAYS, [istio, vs]);
  const rows: [string, ProxyNode, string[]][] = [
    ['infra/web proxies', router('infra', NAMED_WEB), ['shop.example.com']],
    ['attacker/web proxies', router('attacker', NAMED_WEB), ['login.example.com']],
    [
      'the ingress gateway in default: root-namespace and Istio Gateways, not attacker/claim',
      router('default', INGRESS),
      ['edge.example.com', 'istio.example.com'],
    ],
    [
      'the ingress gateway in attacker: its own namespace too',
      router('attacker', INGRESS),
      ['edge.example.com', 'istio.example.com', 'pay.example.com'],
    ],
  ];
  for (const [what, node, want] of rows) {
    const hosts = [...routes(p, node).keys()].filter((d) => d.endsWith('example.com')).sort();
    assert.deepEqual(hosts, want, what);
  }
});
