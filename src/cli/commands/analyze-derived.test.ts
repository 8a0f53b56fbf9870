/**
 * `trellis analyze` checks the config as the control plane serves it: the derivations (Gateway
 * API to Istio kinds, TrafficFilters layered in) run first, and what they find (a TrafficFilter
 * conflict, a Gateway API reference a ReferenceGrant does not allow) is reported on the file and
 * field of the resource the user wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CommandIo } from '../command.js';
import { command } from './analyze.js';

const ROUTES = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews.shop.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http: [{ route: [{ destination: { host: reviews.shop.svc.cluster.local } }] }]
`;

const filter = (name: string, attempts: number) => `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: ${name}, namespace: shop }
spec:
  target: { host: reviews.shop.svc.cluster.local }
  owner: ${name}
  priority: 10
  retries: { attempts: ${attempts} }
`;

const GATEWAY_API = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: shop }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: 80, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: shop }
spec:
  parentRefs: [{ name: web }]
  rules:
  - backendRefs: [{ name: reviews, port: 9080 }]
    filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: x, namespace: other, port: 80 } } }]
`;

async function analyzeFiles(files: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-analyze-derived-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    let out = '';
    const io: CommandIo = {
      stdout: (t) => void (out += t),
      stderr: (t) => void (out += t),
      env: {},
      cwd: dir,
    };
    const code = await command.run(['.'], io);
    return { code, lines: out.split('\n').filter((l) => l !== '') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('analyze: a TrafficFilter conflict is reported on each filter, with its field', async () => {
  const r = await analyzeFiles({
    'routes.yaml': ROUTES,
    'filters.yaml': `${filter('a-team', 4)}---\n${filter('b-team', 6)}`,
  });
  assert.equal(r.code, 1);
  assert.match(
    r.lines[0] ?? '',
    /^filters\.yaml:1: spec\.retries\.attempts: conflicts with TrafficFilter shop\/b-team \(owner b-team\) at the same priority 10: both set VirtualService shop\/reviews spec\.http\[0\]\.retries\.attempts/,
  );
  assert.match(
    r.lines[1] ?? '',
    /^filters\.yaml:2: spec\.retries\.attempts: conflicts with TrafficFilter shop\/a-team/,
  );
  assert.equal(r.lines.at(-1), 'Error: 2 errors, 0 warnings');
});

test('analyze: filters at different priorities layer without a finding', async () => {
  const r = await analyzeFiles({
    'routes.yaml': ROUTES,
    'filters.yaml': `${filter('a-team', 4)}---\n${filter('b-team', 6).replace('priority: 10', 'priority: 20')}`,
  });
  assert.equal(r.code, 0, r.lines.join('\n'));
});

test('analyze: a Gateway API reference across namespaces without a ReferenceGrant is reported on the route', async () => {
  const r = await analyzeFiles({ 'routes.yaml': ROUTES, 'gateway.yaml': GATEWAY_API });
  assert.equal(r.code, 1);
  assert.match(
    r.lines[0] ?? '',
    /^gateway\.yaml:2: spec\.rules: RefNotPermitted: requestMirror: backendRef Service other\/x is in another namespace and no ReferenceGrant in other allows HTTPRoute from shop; add one/,
  );
  const granted = await analyzeFiles({
    'routes.yaml': ROUTES,
    'gateway.yaml': GATEWAY_API,
    'grant.yaml': `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: shop-mirrors, namespace: other }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop }]
  to: [{ group: "", kind: Service }]
`,
  });
  assert.doesNotMatch(granted.lines.join('\n'), /RefNotPermitted/);
});
