/**
 * The RequestRedirect port rules (conformance httproute-redirect-port-and-scheme): without scheme
 * and port, the redirect goes to the listener's port (the proxy leaves 80 out for http and 443
 * for https); with a scheme only, to that scheme's well-known port; an explicit port wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { derive, virtualServices } from './testing.js';

const setup = (
  redirect: string,
  parent = '{ name: web, namespace: infra }',
) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
  - { name: alt, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: shop }
spec:
  parentRefs: [${parent}]
  rules: [{ filters: [{ type: RequestRedirect, requestRedirect: ${redirect} }] }]
`;

/** `listener -> redirect port` over the derived VirtualServices. */
function ports(yaml: string): Record<string, number | string | undefined> {
  const out: Record<string, number | string | undefined> = {};
  for (const vs of virtualServices(derive(yaml))) {
    const r = vs.spec.http![0]!.redirect!;
    out[vs.spec.gateways![0]!.split('-').pop()!] = r.port ?? r.derivePort;
  }
  return out;
}

test('redirect ports per listener: the request port, the scheme default, or the one written', () => {
  const rows: [string, Record<string, number | string | undefined>][] = [
    ['{ hostname: example.org }', { http: 80, alt: 8080 }],
    ['{ hostname: example.org, port: 80 }', { http: 80, alt: 80 }],
    ['{ hostname: example.org, port: 8080 }', { http: 8080, alt: 8080 }],
    ['{ scheme: https, hostname: example.org }', { http: 443, alt: 443 }],
    ['{ scheme: https, port: 8443 }', { http: 8443, alt: 8443 }],
  ];
  for (const [redirect, want] of rows) assert.deepEqual(ports(setup(redirect)), want, redirect);
});

test('a mesh (GAMMA) redirect goes to the parentRef port, or keeps the request port without one', () => {
  const at = (parent: string) =>
    virtualServices(derive(setup('{ hostname: example.org }', parent)))[0]!.spec.http![0]!.redirect!;
  assert.equal(at('{ group: "", kind: Service, name: a, port: 9080 }').port, 9080);
  const bare = at('{ group: "", kind: Service, name: a }');
  assert.equal(bare.port, undefined);
  assert.equal(bare.derivePort, undefined, 'nothing the translation would ignore is left behind');
});
