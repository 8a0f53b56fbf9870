/** Which EnvoyFilters apply to which proxy, and in what order (Istio's push_context.go rules). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvoyFilterSpec } from '../../../api/networking/envoy-filter.js';
import type { Resource } from '../../../api/resource.js';
import { buildPushContext } from '../index.js';
import { config, proxy, registry } from '../testkit.js';
import { envoyFilter } from './testing.js';
import { appliesTo, orderFilters, proxyEnvoyFilters } from './select.js';

const patch = { configPatches: [{ applyTo: 'CLUSTER' as const, patch: { operation: 'REMOVE' as const } }] };
const ef = (ns: string, name: string, spec: EnvoyFilterSpec = {}, created?: string): Resource =>
  envoyFilter(ns, name, { ...patch, ...spec }, created);

const SIDECAR = proxy({ namespace: 'shop', labels: { app: 'cart', version: 'v1' } });
const OTHER_NS = proxy({ namespace: 'billing', labels: { app: 'cart' } });
const GATEWAY = proxy({
  type: 'router',
  namespace: 'shop',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
});
const GRPC = proxy({ type: 'grpc', namespace: 'shop', labels: { app: 'cart' } });

test('selection: root namespace everywhere, a namespace its own proxies, selectors and targetRefs', () => {
  const cases: { name: string; filter: Resource; applies: [boolean, boolean, boolean, boolean] }[] = [
    {
      name: 'root namespace, no selector',
      filter: ef('istio-system', 'a'),
      applies: [true, true, true, false],
    },
    {
      name: 'root namespace with a selector: matching workloads of every namespace',
      filter: ef('istio-system', 'a', { workloadSelector: { labels: { app: 'cart' } } }),
      applies: [true, true, false, false],
    },
    { name: 'own namespace, no selector', filter: ef('shop', 'a'), applies: [true, false, true, false] },
    {
      name: 'selector: every label must match',
      filter: ef('shop', 'a', { workloadSelector: { labels: { app: 'cart', version: 'v2' } } }),
      applies: [false, false, false, false],
    },
    {
      name: 'selector subset of the labels',
      filter: ef('shop', 'a', { workloadSelector: { labels: { version: 'v1' } } }),
      applies: [true, false, false, false],
    },
    {
      name: 'selector without labels: the whole namespace',
      filter: ef('shop', 'a', { workloadSelector: {} }),
      applies: [true, false, true, false],
    },
    {
      name: 'targetRefs to a Gateway: the proxies of that gateway only',
      filter: ef('shop', 'a', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }],
      }),
      applies: [false, false, true, false],
    },
    {
      name: 'targetRefs to another Gateway',
      filter: ef('shop', 'a', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'other' }],
      }),
      applies: [false, false, false, false],
    },
    {
      name: 'targetRefs to a Service: no proxy (Istio: waypoints only)',
      filter: ef('shop', 'a', { targetRefs: [{ kind: 'Service', name: 'cart' }] }),
      applies: [false, false, false, false],
    },
    {
      name: 'a root namespace targetRef does not reach gateways of other namespaces',
      filter: ef('istio-system', 'a', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }],
      }),
      applies: [false, false, false, false],
    },
    { name: 'another namespace', filter: ef('billing', 'a'), applies: [false, true, false, false] },
  ];
  for (const c of cases) {
    const got = [SIDECAR, OTHER_NS, GATEWAY, GRPC].map((p) => appliesTo(c.filter, p, 'istio-system'));
    assert.deepEqual(got, c.applies, c.name);
  }
});

test('order: priority first; equal priorities put the root namespace first, then the oldest, then the name', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const filters = [
    ef('shop', 'late', {}, t(5)),
    ef('shop', 'early', {}, t(1)),
    ef('istio-system', 'root-late', {}, t(9)),
    ef('shop', 'first', { priority: -10 }, t(8)),
    ef('istio-system', 'root-last', { priority: 5 }, t(0)),
    ef('shop', 'b-same-time', {}, t(3)),
    ef('shop', 'a-same-time', {}, t(3)),
  ];
  assert.deepEqual(
    orderFilters(filters, 'istio-system').map((r) => r.metadata.name),
    ['first', 'root-late', 'early', 'a-same-time', 'b-same-time', 'late', 'root-last'],
  );
});

test('match.proxy: the version regex against node metadata ISTIO_VERSION, and metadata values', () => {
  const withMatch = (proxyMatch: object) =>
    envoyFilter('shop', 'v', {
      configPatches: [{ applyTo: 'CLUSTER', match: { proxy: proxyMatch }, patch: { operation: 'REMOVE' } }],
    });
  const cases: { match: object; metadata: Record<string, unknown>; applies: boolean }[] = [
    { match: { proxyVersion: '^1\\.2.*' }, metadata: { ISTIO_VERSION: '1.24.0' }, applies: true },
    { match: { proxyVersion: '^1\\.3.*' }, metadata: { ISTIO_VERSION: '1.24.0' }, applies: false },
    { match: { proxyVersion: '^1\\.2.*' }, metadata: {}, applies: false },
    { match: { metadata: { CLUSTER_ID: 'east' } }, metadata: { CLUSTER_ID: 'east' }, applies: true },
    { match: { metadata: { CLUSTER_ID: 'east' } }, metadata: { CLUSTER_ID: 'west' }, applies: false },
    { match: {}, metadata: {}, applies: true },
  ];
  for (const c of cases) {
    const push = buildPushContext(config([withMatch(c.match)]), registry([]));
    const got = proxyEnvoyFilters(push, { ...SIDECAR, metadata: c.metadata }).patches.length === 1;
    assert.equal(got, c.applies, JSON.stringify(c));
  }
});

test('a proxy no filter applies to has no patches and an empty key', () => {
  const push = buildPushContext(config([ef('billing', 'a')]), registry([]));
  assert.deepEqual(proxyEnvoyFilters(push, SIDECAR), { patches: [], key: '' });
  assert.notEqual(proxyEnvoyFilters(push, OTHER_NS).key, '');
});
