/**
 * Namespace scoping of derived resources (bypass attempts from another namespace): GAMMA producer
 * and consumer routes, and which namespace's proxies a Gateway API Gateway may select.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GATEWAY_API_KIND } from '../../api/gateway/types.js';
import type { Gateway } from '../../api/networking/types.js';
import { derive, put, routeConditions, virtualServices } from './testing.js';

const meshRoute = (ns: string, parent: string, kind = 'HTTPRoute', name = 'r') => `---
apiVersion: gateway.networking.k8s.io/${kind === 'HTTPRoute' ? 'v1' : 'v1alpha2'}
kind: ${kind}
metadata: { name: ${name}, namespace: ${ns} }
spec:
  parentRefs: [{ group: "", kind: Service, name: payments, ${parent}port: 8080 }]
  rules: [{ backendRefs: [{ name: payments, port: 8080 }] }]
`;

test('GAMMA: a producer route routes every caller; a consumer route only its own namespace', () => {
  const rows: {
    what: string;
    yaml: string;
    want: { ns: string; name: string; exportTo?: string[] }[];
  }[] = [
    {
      what: 'producer route (the Service namespace, named)',
      yaml: meshRoute('prod', 'namespace: prod, '),
      want: [{ ns: 'prod', name: 'payments-gamma-8080' }],
    },
    {
      what: 'producer route (the namespace left out)',
      yaml: meshRoute('prod', ''),
      want: [{ ns: 'prod', name: 'payments-gamma-8080' }],
    },
    {
      what: "consumer route: another namespace's Service",
      yaml: meshRoute('attacker', 'namespace: prod, '),
      want: [{ ns: 'attacker', name: 'payments.prod-gamma-8080', exportTo: ['.'] }],
    },
    {
      what: 'producer and consumer routes for one host stay apart',
      yaml: meshRoute('prod', '', 'HTTPRoute', 'own') + meshRoute('attacker', 'namespace: prod, '),
      want: [
        { ns: 'prod', name: 'payments-gamma-8080' },
        { ns: 'attacker', name: 'payments.prod-gamma-8080', exportTo: ['.'] },
      ],
    },
    {
      what: 'consumer routes of two namespaces stay apart',
      yaml: meshRoute('a', 'namespace: prod, ') + meshRoute('b', 'namespace: prod, '),
      want: [
        { ns: 'a', name: 'payments.prod-gamma-8080', exportTo: ['.'] },
        { ns: 'b', name: 'payments.prod-gamma-8080', exportTo: ['.'] },
      ],
    },
    {
      what: 'a consumer route beside a producer route of its own same-named Service',
      yaml: meshRoute('attacker', '', 'HTTPRoute', 'own') + meshRoute('attacker', 'namespace: prod, '),
      want: [
        { ns: 'attacker', name: 'payments-gamma-8080' },
        { ns: 'attacker', name: 'payments.prod-gamma-8080', exportTo: ['.'] },
      ],
    },
    {
      what: 'TCPRoute consumer route',
      yaml: meshRoute('attacker', 'namespace: prod, ', 'TCPRoute'),
      want: [
        { ns: 'attacker', name: 'payments.prod-gamma-tcp-payments.prod.svc.cluster.local', exportTo: ['.'] },
      ],
    },
    {
      what: "a consumer route's name never takes a producer route's (Service payments-prod)",
      yaml:
        meshRoute('attacker', '', 'HTTPRoute', 'own').replace('name: payments,', 'name: payments-prod,') +
        meshRoute('attacker', 'namespace: prod, '),
      want: [
        { ns: 'attacker', name: 'payments-prod-gamma-8080' },
        { ns: 'attacker', name: 'payments.prod-gamma-8080', exportTo: ['.'] },
      ],
    },
    {
      what: 'TCPRoute consumer routes of two namespaces stay apart',
      yaml: meshRoute('a', 'namespace: prod, ', 'TCPRoute') + meshRoute('b', 'namespace: prod, ', 'TCPRoute'),
      want: [
        { ns: 'a', name: 'payments.prod-gamma-tcp-payments.prod.svc.cluster.local', exportTo: ['.'] },
        { ns: 'b', name: 'payments.prod-gamma-tcp-payments.prod.svc.cluster.local', exportTo: ['.'] },
      ],
    },
    {
      what: 'TCPRoute producer route',
      yaml: meshRoute('prod', '', 'TCPRoute'),
      want: [{ ns: 'prod', name: 'payments-gamma-tcp-payments.prod.svc.cluster.local' }],
    },
  ];
  for (const row of rows) {
    const got = virtualServices(derive(row.yaml)).map((v) => ({
      ns: v.metadata.namespace,
      name: v.metadata.name,
      ...(v.spec.exportTo ? { exportTo: v.spec.exportTo } : {}),
    }));
    assert.deepEqual(
      got.sort((a, b) => a.ns.localeCompare(b.ns) || a.name.localeCompare(b.name)),
      [...row.want].sort((a, b) => a.ns.localeCompare(b.ns) || a.name.localeCompare(b.name)),
      row.what,
    );
    for (const v of virtualServices(derive(row.yaml))) {
      // A producer VirtualService `svc-gamma...` in the Service's namespace; a consumer one `svc.ns-gamma...`.
      const [svc, ns = v.metadata.namespace] = v.metadata.name.split('-gamma')[0]!.split('.');
      const host = `${svc}.${ns}.svc.cluster.local`;
      assert.deepEqual(v.spec.hosts, [host], row.what);
      assert.deepEqual(v.spec.gateways, ['mesh'], row.what);
    }
  }
});

test("a route to a Gateway keeps its VirtualService in the Gateway's namespace, exported to all", () => {
  const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
  - { name: tcp, port: 9000, protocol: TCP, allowedRoutes: { namespaces: { from: All } } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: h, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: http }]
  rules: [{ backendRefs: [{ name: a, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra, sectionName: tcp }]
  rules: [{ backendRefs: [{ name: a, port: 80 }] }]
`;
  assert.deepEqual(
    virtualServices(derive(yaml)).map((v) => [v.metadata.namespace, v.metadata.name, v.spec.exportTo]),
    [
      ['infra', 'web-istio-autogenerated-k8s-gateway-http-wildcard', undefined],
      ['infra', 'web-istio-autogenerated-k8s-gateway-tcp-tcp-wildcard', undefined],
    ],
  );
});

test("GAMMA: a consumer route's status says whose traffic it routes", () => {
  const out = derive(meshRoute('attacker', 'namespace: prod, '));
  assert.deepEqual(routeConditions(out, 'HTTPRoute', 'r'), {
    Accepted: 'True/Accepted',
    ResolvedRefs: 'True/ResolvedRefs',
  });
  const status = put(out, 'HTTPRoute')[0]!.status as {
    parents: { conditions: { type: string; message: string }[] }[];
  };
  const accepted = status.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
  assert.match(accepted.message, /from callers in namespace attacker only/);
});

const gateway = (ns: string, annotation = '') => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: ${ns}${annotation ? `, annotations: { trellis.io/gateway-selector: "${annotation}" }` : ''} }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 8080, protocol: HTTP }]
`;

test("a Gateway API Gateway selects proxies of its own namespace only, but a root-namespace selector's anywhere", () => {
  const rows: [string, string, string, Record<string, string>, boolean][] = [
    // what, namespace, selector annotation, selector, own namespace only
    ['gateway-name label', 'infra', '', { 'gateway.networking.k8s.io/gateway-name': 'web' }, true],
    ['selector annotation', 'attacker', 'istio=ingressgateway', { istio: 'ingressgateway' }, true],
    ['selector annotation (infra)', 'infra', 'istio=ingressgateway', { istio: 'ingressgateway' }, true],
    ['root namespace, selector', 'istio-system', 'istio=ingressgateway', { istio: 'ingressgateway' }, false],
    [
      'root namespace, gateway-name label',
      'istio-system',
      '',
      { 'gateway.networking.k8s.io/gateway-name': 'web' },
      true,
    ],
    [
      'root namespace, malformed selector',
      'istio-system',
      'nonsense',
      { 'gateway.networking.k8s.io/gateway-name': 'web' },
      true,
    ],
  ];
  for (const [what, ns, annotation, selector, scoped] of rows) {
    const out = derive(gateway(ns, annotation));
    const [gw] = put(out, 'Gateway') as Gateway[];
    assert.deepEqual(gw!.spec.selector, selector, what);
    assert.equal(gw!.metadata.namespace, ns, what);
    assert.equal(
      gw!.metadata.annotations?.['trellis.io/gateway-same-namespace'],
      scoped ? 'true' : undefined,
      what,
    );
    const status = put(out, GATEWAY_API_KIND.Gateway)[0]?.status as
      { conditions: { type: string; message: string }[] } | undefined;
    const programmed = status?.conditions.find((c) => c.type === 'Programmed')?.message ?? '';
    if (scoped) assert.match(programmed, new RegExp(`in namespace ${ns}$`), what);
    else assert.doesNotMatch(programmed, /in namespace/, what);
  }
});
