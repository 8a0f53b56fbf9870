/**
 * Backend problems as the Gateway API defines them: a backendRef to a Service the mesh does not
 * know (BackendNotFound), into another namespace without a ReferenceGrant (RefNotPermitted), or of
 * a kind Trellis does not route to (InvalidKind) sets the route's ResolvedRefs=False, and that
 * backend's share of the traffic is answered 500 while the rest still flows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derive, routeConditions, virtualServices, GATEWAY } from './testing.js';
import { INVALID_BACKEND_HOST } from './references.js';

const KNOWN = [
  'a.shop.svc.cluster.local',
  'b.shop.svc.cluster.local',
  'db.data.svc.cluster.local',
  'external.example.com',
];

const route = (backendRefs: string, ns = 'shop') => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: ${ns} }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  rules: [{ backendRefs: ${backendRefs} }]
`;

test('ResolvedRefs per backendRef: found, not found, not permitted, invalid kind', () => {
  const rows: [string, string, string][] = [
    ['a Service the mesh knows', '[{ name: a, port: 80 }]', 'True/ResolvedRefs'],
    ['a Service nobody registered', '[{ name: ghost, port: 80 }]', 'False/BackendNotFound'],
    [
      'a known Hostname',
      '[{ group: networking.istio.io, kind: Hostname, name: external.example.com, port: 443 }]',
      'True/ResolvedRefs',
    ],
    [
      'an unknown Hostname',
      '[{ group: networking.istio.io, kind: Hostname, name: nowhere.example.com, port: 443 }]',
      'False/BackendNotFound',
    ],
    ['another namespace, no grant', '[{ name: db, namespace: data, port: 80 }]', 'False/RefNotPermitted'],
    // A missing Service in another namespace says RefNotPermitted first: what exists there is not
    // the route's to learn.
    [
      'another namespace, missing, no grant',
      '[{ name: ghost, namespace: data, port: 80 }]',
      'False/RefNotPermitted',
    ],
    [
      'a kind Trellis does not route to',
      '[{ group: example.com, kind: Bucket, name: a }]',
      'False/InvalidKind',
    ],
    ['a core kind that is not a Service', '[{ group: "", kind: Secret, name: a }]', 'False/InvalidKind'],
  ];
  for (const [what, refs, want] of rows) {
    const out = derive(GATEWAY + route(refs), undefined, KNOWN);
    assert.deepEqual(
      routeConditions(out, 'HTTPRoute', 'r'),
      { Accepted: 'True/Accepted', ResolvedRefs: want },
      what,
    );
  }
});

test('the message of BackendNotFound names the host and says what to do', () => {
  const out = derive(GATEWAY + route('[{ name: ghost, port: 80 }]'), undefined, KNOWN);
  const status = out.put!.find((r) => r.kind === 'HTTPRoute')!.status as {
    parents: { conditions: { type: string; message: string }[] }[];
  };
  const msg = status.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!.message;
  assert.match(msg, /ghost\.shop\.svc\.cluster\.local/);
  assert.match(msg, /register the workload or apply a ServiceEntry/);
  assert.ok(
    out.problems?.some((p) => p.problems.some((x) => /BackendNotFound/.test(x.message))),
    'reported as a derivation problem too (trellis check)',
  );
});

test("an invalid backend's weight stays, on a host no service has; valid ones keep theirs", () => {
  const rows: [string, string, { host: string; weight?: number }[] | number][] = [
    [
      'one missing of two',
      '[{ name: a, port: 80, weight: 3 }, { name: ghost, port: 80, weight: 1 }]',
      [
        { host: 'a.shop.svc.cluster.local', weight: 3 },
        { host: INVALID_BACKEND_HOST, weight: 1 },
      ],
    ],
    [
      'one refused of two',
      '[{ name: db, namespace: data, port: 80 }, { name: b, port: 80 }]',
      [
        { host: 'b.shop.svc.cluster.local', weight: 1 },
        { host: INVALID_BACKEND_HOST, weight: 1 },
      ],
    ],
    [
      'an invalid backend of weight 0 takes no share',
      '[{ name: a, port: 80 }, { name: ghost, port: 80, weight: 0 }]',
      [{ host: 'a.shop.svc.cluster.local' }],
    ],
    [
      'only invalid backends: every request 500',
      '[{ name: ghost, port: 80 }, { group: x.io, kind: Y, name: z }]',
      500,
    ],
    ['only a missing backend', '[{ name: ghost, port: 80 }]', 500],
  ];
  for (const [what, refs, want] of rows) {
    const http = virtualServices(derive(GATEWAY + route(refs), undefined, KNOWN))[0]!.spec.http![0]!;
    if (typeof want === 'number') {
      assert.equal(http.directResponse?.status, want, what);
      assert.equal(http.route, undefined, what);
      continue;
    }
    assert.deepEqual(
      http.route!.map((d) => ({
        host: d.destination.host,
        ...(d.weight !== undefined ? { weight: d.weight } : {}),
      })),
      want,
      what,
    );
  }
});

test('derived VirtualServices carry Istio gateway route semantics (a missing cluster is 500)', () => {
  const vs = virtualServices(derive(GATEWAY + route('[{ name: a, port: 80 }]'), undefined, KNOWN))[0]!;
  assert.equal(vs.metadata.annotations?.['internal.istio.io/route-semantics'], 'gateway');
});

test('without knowledge of the services (no context) every Service counts as found', () => {
  const out = derive(GATEWAY + route('[{ name: ghost, port: 80 }]'));
  assert.equal(routeConditions(out, 'HTTPRoute', 'r').ResolvedRefs, 'True/ResolvedRefs');
});

test('a GAMMA route to a missing backend: ResolvedRefs=False too', () => {
  const out = derive(
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: a, port: 80 }]
  rules: [{ backendRefs: [{ name: a, port: 80 }, { name: ghost, port: 80 }] }]
`,
    undefined,
    KNOWN,
  );
  assert.equal(routeConditions(out, 'HTTPRoute', 'r').ResolvedRefs, 'False/BackendNotFound');
  assert.deepEqual(
    virtualServices(out)[0]!.spec.http![0]!.route!.map((d) => d.destination.host),
    ['a.shop.svc.cluster.local', INVALID_BACKEND_HOST],
  );
});

test('TCPRoute: a missing backend is BackendNotFound', () => {
  const out = derive(
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners: [{ name: tcp, port: 9000, protocol: TCP, allowedRoutes: { namespaces: { from: All } } }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: t, namespace: shop }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  rules: [{ backendRefs: [{ name: ghost, port: 9000 }] }]
`,
    undefined,
    KNOWN,
  );
  assert.equal(routeConditions(out, 'TCPRoute', 't').ResolvedRefs, 'False/BackendNotFound');
});
