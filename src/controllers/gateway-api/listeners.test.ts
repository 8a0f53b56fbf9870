/**
 * Listeners sharing a port (the Gateway API's distinct-listener rules: all HTTP, or all
 * HTTPS/TLS told apart by hostname; TCP alone): the later of two conflicting listeners is
 * Conflicted, not accepted and not programmed, the others are served; a Gateway's `addresses`
 * are refused with UnsupportedAddress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../../api/networking/types.js';
import { derive, put, routeConditions } from './testing.js';

const gateway = (listeners: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
${extra}  listeners:
${listeners}---
apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: infra }
type: Opaque
stringData: { note: the derivation checks that it exists }
`;

type Status = {
  conditions: { type: string; status: string; reason: string; message: string }[];
  listeners: { name: string; conditions: { type: string; status: string; reason: string }[] }[];
};
const status = (out: ReturnType<typeof derive>) => put(out, 'KubernetesGateway')[0]!.status as Status;
const cond = (l: Status['listeners'][number], type: string) => {
  const c = l.conditions.find((x) => x.type === type);
  return c === undefined ? '-' : `${c.status}/${c.reason}`;
};
/** `name: Conflicted Accepted Programmed` per listener. */
const summary = (out: ReturnType<typeof derive>) =>
  status(out).listeners.map(
    (l) => `${l.name}: ${cond(l, 'Conflicted')} ${cond(l, 'Accepted')} ${cond(l, 'Programmed')}`,
  );
const served = (out: ReturnType<typeof derive>) =>
  (put(out, 'Gateway') as Gateway[]).map((g) => g.spec.servers[0]!.name).sort();

const tls = 'tls: { certificateRefs: [{ name: cert }] }';

test('listeners on one port: which conflict, and why', () => {
  const ok = 'True/Accepted True/Programmed';
  const rows: [string, string, string[]][] = [
    [
      'HTTP and HTTP, two hostnames',
      `  - { name: a, port: 80, protocol: HTTP, hostname: a.example.com }
  - { name: b, port: 80, protocol: HTTP, hostname: b.example.com }
`,
      [`a: - ${ok}`, `b: - ${ok}`],
    ],
    [
      'HTTP with a hostname and HTTP without (the catch-all)',
      `  - { name: a, port: 80, protocol: HTTP, hostname: a.example.com }
  - { name: any, port: 80, protocol: HTTP }
`,
      [`a: - ${ok}`, `any: - ${ok}`],
    ],
    [
      'HTTPS and TLS, two hostnames (told apart by SNI)',
      `  - { name: a, port: 443, protocol: HTTPS, hostname: a.example.com, ${tls} }
  - { name: b, port: 443, protocol: TLS, hostname: b.example.com, tls: { mode: Passthrough } }
`,
      [`a: - ${ok}`, `b: - ${ok}`],
    ],
    [
      'HTTPS and TLS, one hostname',
      `  - { name: a, port: 443, protocol: HTTPS, hostname: a.example.com, ${tls} }
  - { name: b, port: 443, protocol: TLS, hostname: a.example.com, tls: { mode: Passthrough } }
`,
      [`a: - ${ok}`, 'b: True/HostnameConflict False/HostnameConflict False/HostnameConflict'],
    ],
    [
      'HTTPS and TLS without hostnames: both catch-alls',
      `  - { name: a, port: 443, protocol: HTTPS, ${tls} }
  - { name: b, port: 443, protocol: TLS, tls: { mode: Passthrough } }
`,
      [`a: - ${ok}`, 'b: True/HostnameConflict False/HostnameConflict False/HostnameConflict'],
    ],
    [
      'HTTP and HTTPS on one port',
      `  - { name: a, port: 8443, protocol: HTTP, hostname: a.example.com }
  - { name: b, port: 8443, protocol: HTTPS, hostname: b.example.com, ${tls} }
`,
      [`a: - ${ok}`, 'b: True/ProtocolConflict False/ProtocolConflict False/ProtocolConflict'],
    ],
    [
      'TCP beside HTTP on one port; another port is unaffected',
      `  - { name: web, port: 80, protocol: HTTP }
  - { name: db, port: 80, protocol: TCP }
  - { name: db2, port: 5432, protocol: TCP }
`,
      [
        `web: - ${ok}`,
        'db: True/ProtocolConflict False/ProtocolConflict False/ProtocolConflict',
        `db2: - ${ok}`,
      ],
    ],
    [
      'the first listener keeps the port; a third compatible with it is fine',
      `  - { name: a, port: 80, protocol: TCP }
  - { name: b, port: 80, protocol: HTTP, hostname: b.example.com }
  - { name: c, port: 80, protocol: HTTP, hostname: c.example.com }
`,
      [
        `a: - ${ok}`,
        'b: True/ProtocolConflict False/ProtocolConflict False/ProtocolConflict',
        'c: True/ProtocolConflict False/ProtocolConflict False/ProtocolConflict',
      ],
    ],
  ];
  for (const [what, listeners, want] of rows) {
    const out = derive(gateway(listeners));
    assert.deepEqual(summary(out), want, what);
    const programmed = want.filter((w) => w.endsWith('True/Programmed')).map((w) => w.split(':')[0]!);
    assert.deepEqual(served(out), programmed.sort(), `${what}: only programmed listeners are served`);
  }
});

test("a conflicted listener's message names the listener it conflicts with and what to change", () => {
  const out = derive(
    gateway(`  - { name: a, port: 443, protocol: HTTPS, hostname: a.example.com, ${tls} }
  - { name: b, port: 443, protocol: HTTPS, hostname: a.example.com, ${tls.replace('cert', 'cert')} }
`).replace('name: b, port: 443, protocol: HTTPS', 'name: b, port: 443, protocol: TLS'),
  );
  const b = status(out).listeners.find((l) => l.name === 'b')!;
  const msg = (b.conditions as { type: string; message?: string }[]).find(
    (c) => c.type === 'Conflicted',
  )!.message!;
  assert.match(msg, /conflicts with listener a/);
  assert.match(msg, /another port or hostname/);
});

test('the Gateway: Accepted with ListenersNotValid while some listener is served', () => {
  const out = derive(
    gateway(`  - { name: web, port: 80, protocol: HTTP }
  - { name: db, port: 80, protocol: TCP }
`),
  );
  assert.deepEqual(
    status(out).conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Accepted=True/ListenersNotValid', 'Programmed=True/Programmed'],
  );
  assert.ok(
    out.problems?.some((p) => p.problems.some((x) => /spec\.listeners\[db\]/.test(x.path))),
    'the conflict is reported (trellis check)',
  );
});

test('a route to a conflicted listener is not accepted; to the served one it is', () => {
  const gw = gateway(`  - { name: web, port: 80, protocol: HTTP }
  - { name: other, port: 80, protocol: TCP }
`);
  const route = (section: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: infra }
spec:
  parentRefs: [{ name: web, sectionName: ${section} }]
  rules: [{ backendRefs: [{ name: a, port: 80 }] }]
`;
  assert.equal(routeConditions(derive(gw + route('web')), 'HTTPRoute', 'r').Accepted, 'True/Accepted');
  // `other` is TCP: an HTTPRoute is not allowed there in any case.
  assert.equal(
    routeConditions(derive(gw + route('other')), 'HTTPRoute', 'r').Accepted,
    'False/NotAllowedByListeners',
  );
  const conflicted = gateway(`  - { name: a, port: 80, protocol: TCP }
  - { name: web, port: 80, protocol: HTTP }
`);
  const out = derive(conflicted + route('web'));
  assert.equal(routeConditions(out, 'HTTPRoute', 'r').Accepted, 'False/NoMatchingParent');
  assert.equal(put(out, 'VirtualService').length, 0, 'nothing routes through the conflicted listener');
});

test('addresses: refused with UnsupportedAddress, and nothing of the Gateway is served', () => {
  for (const addresses of [
    '  addresses: [{ type: IPAddress, value: 10.0.0.1 }]\n',
    '  addresses: [{ value: 10.0.0.1 }]\n',
    '  addresses: [{ type: Hostname, value: istio-ingressgateway.istio-system.svc.cluster.local }]\n',
  ]) {
    const out = derive(gateway('  - { name: web, port: 80, protocol: HTTP }\n', addresses));
    const conds = status(out).conditions;
    assert.deepEqual(
      conds.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Accepted=False/UnsupportedAddress', 'Programmed=False/UnsupportedAddress'],
      addresses,
    );
    assert.match(conds[0]!.message, /remove spec\.addresses/);
    assert.deepEqual(put(out, 'Gateway'), [], 'no Istio Gateway is derived');
    assert.ok(out.problems?.some((p) => p.problems.some((x) => x.path === 'spec.addresses')));
  }
});
