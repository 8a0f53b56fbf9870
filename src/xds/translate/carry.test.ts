/**
 * Push contexts built from the previous one carry its memo and indexes. These tests change each
 * kind of input in turn and check that the carried context generates exactly what a context
 * built from scratch does (a memo key that forgot an input would serve the old result), and
 * that affectedTypes names every type whose output changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import { RESOURCE_TYPES, SHORT_TYPE, TYPE } from '../../protocol/protos.js';
import type { Endpoint, Service, ServiceIndexSnapshot } from '../../registry/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { affectedTypes, buildPushContext, generate, generatorKey, type PushContext } from './index.js';
import type { PushContextOptions } from './push-context.js';
import { endpoint, grpc, http, proxy, registry, res, service, tcp } from './testkit.js';

const A = 'a.default.svc.cluster.local';
const B = 'b.default.svc.cluster.local';
const C = 'c.other.svc.cluster.local';
const EXT = 'ext.example.com';
const PAGE = 'page.shop.svc.cluster.local';

interface World {
  resources: readonly Resource[];
  services: readonly Service[];
  endpoints: readonly Endpoint[];
  options?: PushContextOptions;
}

const route = (host: string, subset?: string, weight?: number) => ({
  destination: { host, ...(subset ? { subset } : {}) },
  ...(weight !== undefined ? { weight } : {}),
});

const BASE: World = {
  services: [
    service(A, [http(80), grpc(9090)]),
    service(B, [http(80), tcp(5432)]),
    service(C, [http(8080)]),
    service(EXT, [http(80)], { namespace: 'ext', resolution: 'DNS', location: 'MESH_EXTERNAL' }),
    service(PAGE, [http(80)]),
  ],
  endpoints: [
    endpoint(A, '10.0.0.1', { labels: { version: 'v1' }, locality: 'r1/z1' }),
    endpoint(A, '10.0.0.11', { labels: { version: 'v2' }, locality: 'r1/z2' }),
    endpoint(B, '10.0.0.2'),
    endpoint(C, '10.0.1.3'),
    endpoint(EXT, 'ext.example.com', { namespace: 'ext' }),
    endpoint(PAGE, '10.0.2.5', { labels: { app: 'page' } }),
  ],
  resources: [
    res('Sidecar', 'default', 'default', {
      egress: [{ hosts: ['./*', 'other/*', '*/ext.example.com', 'shop/*'] }],
    }),
    res('Sidecar', 'default', 'narrow', {
      workloadSelector: { labels: { app: 'narrow' } },
      egress: [{ hosts: ['./a.default.svc.cluster.local'] }],
    }),
    res('VirtualService', 'default', 'a', {
      hosts: ['a'],
      http: [
        { match: [{ sourceLabels: { canary: 'true' } }], route: [route('a', 'v2')] },
        { route: [route('a', 'v1', 80), route('a', 'v2', 20)] },
      ],
    }),
    res('VirtualService', 'default', 'b', {
      hosts: ['b'],
      http: [
        { match: [{ uri: { prefix: '/api' } }], delegate: { name: 'b-api', namespace: 'default' } },
        { route: [route('b')] },
      ],
    }),
    res('VirtualService', 'default', 'b-api', { http: [{ route: [route('b')] }] }),
    res('VirtualService', 'default', 'front', {
      hosts: ['front.example.com'],
      gateways: ['gw'],
      http: [{ route: [route('a')] }],
    }),
    res('DestinationRule', 'default', 'a', {
      host: 'a',
      trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 } },
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    }),
    res('DestinationRule', 'istio-system', 'wild', {
      host: '*.example.com',
      trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
    }),
    res('Gateway', 'default', 'gw', {
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    }),
    {
      ...res('RateLimit', 'shop', 'page', {
        hosts: [PAGE],
        mode: 'global',
        limits: [
          { name: 'show', match: { path: { exact: '/show' } }, quota: { requests: 800, per: 'second' } },
        ],
      }),
      apiVersion: 'trellis.io/v1alpha1',
    },
  ],
};

const PROXIES: ProxyNode[] = [
  proxy({ labels: { app: 'app' }, ipAddresses: ['10.0.0.1'], locality: 'r1/z1' }),
  // Differs from the first only in its address: another instance, so other inbound ports.
  proxy({ labels: { app: 'app' }, ipAddresses: ['10.0.0.2'], locality: 'r1/z1' }),
  proxy({ labels: { app: 'app', canary: 'true' }, ipAddresses: ['10.0.0.11'], locality: 'r1/z2' }),
  proxy({ labels: { app: 'narrow' }, ipAddresses: ['10.0.9.9'] }),
  proxy({ namespace: 'other', labels: { app: 'c' }, ipAddresses: ['10.0.1.3'] }),
  proxy({ namespace: 'shop', labels: { app: 'page' }, ipAddresses: ['10.0.2.5'] }),
  proxy({ type: 'router', labels: { istio: 'ingressgateway' }, ipAddresses: ['10.0.5.5'] }),
  proxy({ type: 'grpc', labels: { app: 'g' }, ipAddresses: ['10.0.6.6'] }),
];

/** Config snapshots over the given objects (no copies), so unchanged resources keep their identity. */
let revision = 0;
const registries = new WeakMap<readonly Service[], WeakMap<readonly Endpoint[], ServiceIndexSnapshot>>();

/** The same service and endpoint lists give the same registry snapshot, as the service index does. */
function registryOf(w: World): ServiceIndexSnapshot {
  let byEndpoints = registries.get(w.services);
  if (!byEndpoints) registries.set(w.services, (byEndpoints = new WeakMap()));
  let snap = byEndpoints.get(w.endpoints);
  if (!snap) byEndpoints.set(w.endpoints, (snap = registry(w.services, w.endpoints, ++revision)));
  return snap;
}

function build(w: World, previous?: PushContext): PushContext {
  return buildPushContext(new FrozenSnapshot(++revision, w.resources), registryOf(w), w.options, previous);
}

function replaceResource(
  w: World,
  kind: string,
  name: string,
  next: ((r: Resource) => Resource) | undefined,
): World {
  const resources: Resource[] = [];
  for (const r of w.resources) {
    if (r.kind !== kind || r.metadata.name !== name) resources.push(r);
    else if (next) resources.push(next(r));
  }
  return { ...w, resources };
}

const withSpec = (spec: object) => (r: Resource) => ({ ...r, spec });

function replaceService(w: World, host: string, next: (s: Service) => Service): World {
  return { ...w, services: w.services.map((s) => (s.hostname === host ? Object.freeze(next(s)) : s)) };
}

function replaceEndpoint(w: World, address: string, next: (e: Endpoint) => Endpoint): World {
  return { ...w, endpoints: w.endpoints.map((e) => (e.address === address ? Object.freeze(next(e)) : e)) };
}

const MUTATIONS: Record<string, (w: World) => World> = {
  'VirtualService weights': (w) =>
    replaceResource(w, 'VirtualService', 'a', (r) => ({
      ...r,
      spec: { hosts: ['a'], http: [{ route: [route('a', 'v1', 50), route('a', 'v2', 50)] }] },
    })),
  'delegate VirtualService': (w) =>
    replaceResource(w, 'VirtualService', 'b-api', withSpec({ http: [{ route: [route('a')] }] })),
  'gateway-bound VirtualService': (w) =>
    replaceResource(
      w,
      'VirtualService',
      'front',
      withSpec({ hosts: ['front.example.com'], gateways: ['gw'], http: [{ route: [route('b')] }] }),
    ),
  'DestinationRule subsets': (w) =>
    replaceResource(
      w,
      'DestinationRule',
      'a',
      withSpec({
        host: 'a',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v3', labels: { version: 'v3' } },
        ],
      }),
    ),
  'DestinationRule traffic policy (locality)': (w) =>
    replaceResource(
      w,
      'DestinationRule',
      'a',
      withSpec({
        host: 'a',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      }),
    ),
  'workload-selected DestinationRule added': (w) => ({
    ...w,
    resources: [
      ...w.resources,
      res('DestinationRule', 'default', 'selected', {
        host: 'a',
        workloadSelector: { labels: { canary: 'true' } },
        subsets: [{ name: 'v9', labels: { version: 'v2' } }],
      }),
    ],
  }),
  'root namespace wildcard DestinationRule': (w) =>
    replaceResource(
      w,
      'DestinationRule',
      'wild',
      withSpec({ host: '*.example.com', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }),
    ),
  'Sidecar egress': (w) =>
    replaceResource(w, 'Sidecar', 'default', withSpec({ egress: [{ hosts: ['./*', '*/ext.example.com'] }] })),
  'Sidecar removed': (w) => replaceResource(w, 'Sidecar', 'narrow', undefined),
  Gateway: (w) =>
    replaceResource(
      w,
      'Gateway',
      'gw',
      withSpec({
        selector: { istio: 'ingressgateway' },
        servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
      }),
    ),
  RateLimit: (w) =>
    replaceResource(w, 'RateLimit', 'page', (r) => ({
      ...r,
      spec: {
        hosts: [PAGE],
        mode: 'local',
        limits: [{ name: 'show', quota: { requests: 5, per: 'second' } }],
      },
    })),
  'service port added': (w) => replaceService(w, A, (s) => ({ ...s, ports: [...s.ports, http(8081)] })),
  'service exportTo': (w) => replaceService(w, C, (s) => ({ ...s, exportTo: ['.'] })),
  'service added': (w) => ({
    ...w,
    services: [...w.services, service('d.default.svc.cluster.local', [http(80)])],
  }),
  'endpoint address': (w) => replaceEndpoint(w, '10.0.0.11', (e) => ({ ...e, address: '10.0.0.12' })),
  'endpoint labels (subset membership)': (w) =>
    replaceEndpoint(w, '10.0.0.11', (e) => ({ ...e, labels: { version: 'v1' } })),
  'endpoint locality': (w) => replaceEndpoint(w, '10.0.0.1', (e) => ({ ...e, locality: 'r2/z1' })),
  'DNS endpoint (embedded in CDS)': (w) =>
    replaceEndpoint(w, 'ext.example.com', (e) => ({ ...e, address: 'ext-2.example.com' })),
  'inbound instance moved': (w) => replaceEndpoint(w, '10.0.2.5', (e) => ({ ...e, address: '10.0.2.6' })),
  'another instance moved': (w) => replaceEndpoint(w, '10.0.0.2', (e) => ({ ...e, address: '10.0.0.22' })),
  'rate limit service option': (w) => ({
    ...w,
    options: { ...w.options, rateLimitService: { host: '10.9.9.9', port: 9000 } },
  }),
  'domain suffix option': (w) => ({ ...w, options: { ...w.options, domainSuffix: 'example.internal' } }),
};

const label = (p: ProxyNode): string =>
  `proxy ${PROXIES.indexOf(p)} (${p.type} ${p.namespace} ${p.ipAddresses.join()})`;

const REQUESTS = [undefined, 'all-names', 'first-name'] as const;

/** Everything every proxy gets, for every type, for the wildcard and for named requests. */
function everything(push: PushContext): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const p of PROXIES) {
    for (const type of RESOURCE_TYPES) {
      const full = generate(push, p, type);
      for (const request of REQUESTS) {
        const names =
          request === undefined
            ? undefined
            : request === 'all-names'
              ? [...full.keys()]
              : [...full.keys()].slice(0, 1);
        if (names?.length === 0) continue;
        const resources = names === undefined ? full : generate(push, p, type, names);
        out.set(`${label(p)} ${SHORT_TYPE[type]} ${request ?? '*'}`, [...resources.entries()]);
      }
      out.set(`${label(p)} ${SHORT_TYPE[type]} key`, generatorKey(push, p, type));
    }
  }
  return out;
}

function assertSame(carried: PushContext, fresh: PushContext, label: string): Map<string, unknown> {
  const got = everything(carried);
  const want = everything(fresh);
  for (const [k, v] of want) assert.deepEqual(got.get(k), v, `${label}: ${k}`);
  return want;
}

test('a carried push context generates exactly what a fresh one does, whatever input changes', () => {
  for (const [name, mutate] of Object.entries(MUTATIONS)) {
    const before = build(BASE);
    const beforeOut = everything(before);
    const changed = mutate(BASE);
    const carried = build(changed, before);
    const fresh = build(changed);
    const freshOut = assertSame(carried, fresh, name);
    // The change must be visible somewhere, or a stale result could not have been caught.
    const differing = [...freshOut.keys()].filter(
      (k) => !k.endsWith(' key') && JSON.stringify(freshOut.get(k)) !== JSON.stringify(beforeOut.get(k)),
    );
    assert.ok(differing.length > 0, `${name}: the mutation changes some output`);
    // affectedTypes names every type whose output changed for that proxy.
    for (const p of PROXIES) {
      const affected = affectedTypes(before, carried, p);
      for (const type of RESOURCE_TYPES) {
        const k = `${label(p)} ${SHORT_TYPE[type]} *`;
        if (JSON.stringify(freshOut.get(k)) !== JSON.stringify(beforeOut.get(k))) {
          assert.ok(
            affected.has(type),
            `${name}: ${k} changed but affectedTypes says ${[...affected].map((t) => SHORT_TYPE[t]).join(',')}`,
          );
        }
      }
    }
  }
});

test('a chain of pushes, each from the previous, stays equal to fresh builds (with a tiny memo)', () => {
  for (const memoCapacity of [undefined, 7]) {
    const sized = (w: World): World => ({ ...w, options: { ...w.options, memoCapacity } });
    let world = sized(BASE);
    let push = build(world);
    everything(push);
    for (const [name, mutate] of [...Object.entries(MUTATIONS), ['back to base', () => BASE] as const]) {
      world = sized(mutate(world));
      const next = build(world, push);
      assertSame(next, build(world), `chain/${memoCapacity ?? 'default'}/${name}`);
      push = next;
    }
  }
});

test('an unchanged push reuses every result and affects no proxy', () => {
  const before = build(BASE);
  everything(before);
  const after = build(BASE, before);
  for (const p of PROXIES) assert.deepEqual([...affectedTypes(before, after, p)], [], p.id);
  for (const p of PROXIES) {
    for (const type of RESOURCE_TYPES) assert.equal(generate(after, p, type), generate(before, p, type));
  }
  // A request for every name gets the full set itself (what the server's encoding cache keys on).
  const eds = generate(after, PROXIES[0] as ProxyNode, TYPE.endpoint);
  assert.equal(generate(after, PROXIES[0] as ProxyNode, TYPE.endpoint, [...eds.keys()].reverse()), eds);
});
