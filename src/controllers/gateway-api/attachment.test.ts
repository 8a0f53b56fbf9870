/**
 * Who may attach to what and who may reach what, as tables: parent kinds, listener protocols and
 * allowedRoutes, the gateway selector annotation, certificate references, and ReferenceGrant's
 * every field (each row a bypass that must not work, or the one shape that does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../../api/networking/types.js';
import { derive, put, routeConditions, virtualServices } from './testing.js';

const gateway = (listeners: string, annotations = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra${annotations ? `, annotations: { ${annotations} }` : ''} }
spec:
  gatewayClassName: istio
  listeners:
${listeners}`;

const httpRoute = (parents: string, ns = 'shop', rule = '[{ backendRefs: [{ name: a, port: 80 }] }]') => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: ${ns} }
spec:
  parentRefs: ${parents}
  rules: ${rule}
`;

type ListenerStatus = {
  name: string;
  supportedKinds: { kind: string }[];
  conditions: { type: string; status: string; reason: string }[];
};
function listeners(out: ReturnType<typeof derive>): ListenerStatus[] {
  return (put(out, 'KubernetesGateway')[0]!.status as { listeners: ListenerStatus[] }).listeners;
}
const summary = (l: ListenerStatus) => l.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);

test('parent kinds: a Gateway or a Service; anything else is NoMatchingParent', () => {
  const gw = gateway(
    '  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }\n',
  );
  const rows: [string, string][] = [
    ['[{ name: web, namespace: infra }]', 'True/Accepted'],
    ['[{ group: gateway.networking.k8s.io, kind: Gateway, name: web, namespace: infra }]', 'True/Accepted'],
    ['[{ group: "", kind: Service, name: reviews }]', 'True/Accepted'],
    ['[{ group: core, kind: Service, name: reviews }]', 'True/Accepted'],
    ['[{ group: "", kind: Gateway, name: web, namespace: infra }]', 'False/NoMatchingParent'],
    ['[{ group: example.com, kind: Service, name: reviews }]', 'False/NoMatchingParent'],
    [
      '[{ group: gateway.networking.k8s.io, kind: ListenerSet, name: web, namespace: infra }]',
      'False/NoMatchingParent',
    ],
    ['[{ group: multicluster.x-k8s.io, kind: ServiceImport, name: reviews }]', 'False/NoMatchingParent'],
  ];
  for (const [parents, want] of rows) {
    const out = derive(gw + httpRoute(parents));
    assert.equal(routeConditions(out, 'HTTPRoute', 'r').Accepted, want, parents);
    assert.equal(virtualServices(out).length, want.startsWith('True') ? 1 : 0, parents);
  }
  const mesh = derive(httpRoute('[{ group: core, kind: Service, name: reviews }]'));
  assert.deepEqual(virtualServices(mesh)[0]!.spec.hosts, ['reviews.shop.svc.cluster.local']);
});

test('a parent Gateway of another implementation gets no status from Trellis and no routes', () => {
  const out = derive(
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: theirs, namespace: infra }
spec: { gatewayClassName: other, listeners: [{ name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }] }
` + httpRoute('[{ name: theirs, namespace: infra }, { group: "", kind: Service, name: reviews }]'),
  );
  const status = put(out, 'HTTPRoute')[0]!.status as { parents: { parentRef: { kind: string } }[] };
  assert.deepEqual(
    status.parents.map((p) => p.parentRef.kind),
    ['Service'],
  );
  assert.deepEqual(
    virtualServices(out).map((v) => v.spec.gateways),
    [['mesh']],
  );
});

test('listeners: protocols, allowedRoutes kinds and namespaces, port', () => {
  const gw =
    gateway(`  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
  - { name: grpc-only, port: 81, protocol: HTTP, allowedRoutes: { namespaces: { from: All }, kinds: [{ kind: GRPCRoute }] } }
  - { name: odd-kinds, port: 82, protocol: HTTP, allowedRoutes: { namespaces: { from: All }, kinds: [{ kind: HTTPRoute }, { kind: TLSRoute }, { group: example.com, kind: GRPCRoute }] } }
  - { name: tls-term, port: 443, protocol: TLS, tls: { certificateRefs: [{ name: missing }] }, allowedRoutes: { namespaces: { from: All } } }
  - { name: udp, port: 53, protocol: UDP }
  - { name: selected, port: 84, protocol: HTTP, allowedRoutes: { namespaces: { from: Selector, selector: { matchLabels: { team: x } } } } }
`);
  const out = derive(gw);
  const byName = Object.fromEntries(listeners(out).map((l) => [l.name, l]));
  assert.deepEqual(
    byName.http!.supportedKinds.map((k) => k.kind),
    ['HTTPRoute', 'GRPCRoute'],
  );
  assert.deepEqual(summary(byName.http!), [
    'Accepted=True/Accepted',
    'ResolvedRefs=True/ResolvedRefs',
    'Programmed=True/Programmed',
  ]);
  assert.deepEqual(
    byName['grpc-only']!.supportedKinds.map((k) => k.kind),
    ['GRPCRoute'],
  );
  assert.deepEqual(summary(byName['grpc-only']!), [
    'Accepted=True/Accepted',
    'ResolvedRefs=True/ResolvedRefs',
    'Programmed=True/Programmed',
  ]);
  assert.deepEqual(
    byName['odd-kinds']!.supportedKinds.map((k) => k.kind),
    ['HTTPRoute'],
  );
  assert.deepEqual(summary(byName['odd-kinds']!), [
    'ResolvedRefs=False/InvalidRouteKinds',
    'Accepted=True/Accepted',
    'Programmed=True/Programmed',
  ]);
  assert.deepEqual(
    byName['tls-term']!.supportedKinds.map((k) => k.kind),
    ['TCPRoute'],
    'a terminating TLS listener carries TCP',
  );
  assert.deepEqual(summary(byName['tls-term']!), [
    'ResolvedRefs=False/InvalidCertificateRef',
    'Accepted=True/Accepted',
    'Programmed=False/Invalid',
  ]);
  assert.deepEqual(byName.udp!.supportedKinds, []);
  assert.deepEqual(summary(byName.udp!), [
    'Accepted=False/UnsupportedProtocol',
    'ResolvedRefs=True/ResolvedRefs',
    'Programmed=False/Invalid',
  ]);
  const gwStatus = put(out, 'KubernetesGateway')[0]!.status as {
    conditions: { type: string; status: string }[];
  };
  assert.deepEqual(
    gwStatus.conditions.map((c) => `${c.type}=${c.status}`),
    ['Accepted=True', 'Programmed=True'],
    'some listeners serve',
  );
  assert.deepEqual((put(out, 'Gateway') as Gateway[]).map((g) => g.spec.servers[0]!.name).sort(), [
    'grpc-only',
    'http',
    'odd-kinds',
    'selected',
  ]);

  const rows: [string, string, string][] = [
    ['sectionName: grpc-only', 'shop', 'False/NotAllowedByListeners'],
    ['sectionName: odd-kinds', 'shop', 'True/Accepted'],
    ['port: 81', 'shop', 'False/NotAllowedByListeners'],
    ['port: 80', 'shop', 'True/Accepted'],
    ['port: 99', 'shop', 'False/NoMatchingParent'],
    ['sectionName: http, port: 81', 'shop', 'False/NoMatchingParent'],
    ['sectionName: selected', 'infra', 'False/NotAllowedByListeners'],
  ];
  for (const [ref, ns, want] of rows) {
    const r = derive(gw + httpRoute(`[{ name: web, namespace: infra, ${ref} }]`, ns));
    assert.equal(routeConditions(r, 'HTTPRoute', 'r').Accepted, want, `${ref} from ${ns}`);
  }
  const selector = derive(
    gw + httpRoute('[{ name: web, namespace: infra, sectionName: selected }]', 'infra'),
  );
  const status = put(selector, 'HTTPRoute')[0]!.status as {
    parents: { conditions: { message: string }[] }[];
  };
  assert.match(
    status.parents[0]!.conditions[0]!.message,
    /do not match the listener's namespace selector \(label the namespace with a Namespace document/,
  );
});

test('a Gateway with no listener served is not Programmed', () => {
  const out = derive(gateway('  - { name: udp, port: 53, protocol: UDP }\n'));
  const status = put(out, 'KubernetesGateway')[0]!.status as {
    conditions: { type: string; status: string; reason: string }[];
  };
  assert.deepEqual(
    status.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
    // The conformance test gateway-invalid-listeners-unsupported-protocol: no valid listener.
    ['Accepted=False/ListenersNotValid', 'Programmed=False/Invalid'],
  );
  assert.deepEqual(put(out, 'Gateway'), []);
  assert.ok(
    out.problems?.some(
      (p) => p.source.kind === 'Gateway' && p.problems.some((x) => /UnsupportedProtocol/.test(x.message)),
    ),
  );
});

test('the gateway selector annotation: key=value pairs, spaces trimmed; malformed ones fall back to the gateway-name label', () => {
  const listener = '  - { name: http, port: 80, protocol: HTTP }\n';
  const rows: [string, Record<string, string>][] = [
    ['trellis.io/gateway-selector: "istio=ingressgateway"', { istio: 'ingressgateway' }],
    [
      'trellis.io/gateway-selector: " istio = ingressgateway , app=edge"',
      { istio: 'ingressgateway', app: 'edge' },
    ],
    ['trellis.io/gateway-selector: "=x,app=edge"', { app: 'edge' }],
    ['trellis.io/gateway-selector: "nonsense"', { 'gateway.networking.k8s.io/gateway-name': 'web' }],
    ['', { 'gateway.networking.k8s.io/gateway-name': 'web' }],
  ];
  for (const [annotation, want] of rows) {
    const out = derive(gateway(listener, annotation));
    assert.deepEqual((put(out, 'Gateway') as Gateway[])[0]!.spec.selector, want, annotation);
  }
});

test('certificateRefs of another kind or group are InvalidCertificateRef', () => {
  for (const ref of ['{ kind: ConfigMap, name: c }', '{ group: example.com, kind: Secret, name: c }']) {
    // A Secret of that name exists: the reference is refused for its kind, not for a missing Secret.
    const secret =
      '---\napiVersion: v1\nkind: Secret\nmetadata: { name: c, namespace: infra }\ntype: Opaque\nstringData: { note: x }\n';
    const out = derive(
      gateway(`  - { name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: [${ref}] } }\n`) +
        secret,
    );
    assert.deepEqual(
      summary(listeners(out)[0]!).slice(0, 1),
      ['ResolvedRefs=False/InvalidCertificateRef'],
      ref,
    );
  }
});

test('ReferenceGrant: every field must agree (bypass attempts refused)', () => {
  const base = gateway(
    '  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }\n',
  );
  const route = (backend: string) =>
    httpRoute('[{ name: web, namespace: infra }]', 'shop', `[{ backendRefs: [${backend}] }]`);
  const grant = (from: string, to: string) => `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: g, namespace: data }
spec:
  from: ${from}
  to: ${to}
`;
  const ok = '[{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop }]';
  const svc = '[{ group: "", kind: Service }]';
  const backend = '{ name: db, namespace: data, port: 80 }';
  const rows: [string, string, string, string][] = [
    ['the matching grant', ok, svc, 'True/ResolvedRefs'],
    ['core written as "core"', ok, '[{ group: core, kind: Service }]', 'True/ResolvedRefs'],
    ['a grant naming the Service', ok, '[{ group: "", kind: Service, name: db }]', 'True/ResolvedRefs'],
    [
      'one of several to entries',
      ok,
      '[{ group: "", kind: Secret }, { group: "", kind: Service, name: db }]',
      'True/ResolvedRefs',
    ],
    [
      'one of several from entries',
      `[{ group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: shop }, ${ok.slice(1, -1)}]`,
      svc,
      'True/ResolvedRefs',
    ],
    [
      'from another kind',
      '[{ group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: shop }]',
      svc,
      'False/RefNotPermitted',
    ],
    [
      'from another group',
      '[{ group: example.com, kind: HTTPRoute, namespace: shop }]',
      svc,
      'False/RefNotPermitted',
    ],
    [
      'from another namespace',
      '[{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other }]',
      svc,
      'False/RefNotPermitted',
    ],
    ['to another group', ok, '[{ group: example.com, kind: Service }]', 'False/RefNotPermitted'],
    ['to another kind', ok, '[{ group: "", kind: Secret }]', 'False/RefNotPermitted'],
    ['to another name', ok, '[{ group: "", kind: Service, name: other }]', 'False/RefNotPermitted'],
  ];
  for (const [what, from, to, want] of rows) {
    const out = derive(base + route(backend) + grant(from, to));
    assert.equal(routeConditions(out, 'HTTPRoute', 'r').ResolvedRefs, want, what);
  }
});

test('backend kinds: Service (core) and Hostname (networking.istio.io) only', () => {
  const base = gateway(
    '  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }\n',
  );
  const rows: [string, string][] = [
    ['{ group: "", kind: Service, name: a, port: 80 }', 'True/ResolvedRefs'],
    ['{ group: core, kind: Service, name: a, port: 80 }', 'True/ResolvedRefs'],
    ['{ group: networking.istio.io, kind: Hostname, name: a.example.org }', 'True/ResolvedRefs'],
    ['{ group: "", kind: Hostname, name: a.example.org }', 'False/InvalidKind'],
    ['{ group: networking.istio.io, kind: Service, name: a }', 'False/InvalidKind'],
    ['{ group: example.com, kind: Bucket, name: b }', 'False/InvalidKind'],
  ];
  for (const [ref, want] of rows) {
    const out = derive(
      base + httpRoute('[{ name: web, namespace: infra }]', 'shop', `[{ backendRefs: [${ref}] }]`),
    );
    assert.equal(routeConditions(out, 'HTTPRoute', 'r').ResolvedRefs, want, ref);
  }
  const invalid = derive(
    base +
      httpRoute(
        '[{ name: web, namespace: infra }]',
        'shop',
        '[{ backendRefs: [{ group: example.com, kind: Bucket, name: b }] }]',
      ),
  );
  const message = (
    put(invalid, 'HTTPRoute')[0]!.status as { parents: { conditions: { message: string }[] }[] }
  ).parents[0]!.conditions[1]!.message;
  assert.match(
    message,
    /backendRef Bucket\.example\.com b: Trellis routes to Services and to Istio Hostnames/,
  );
});
