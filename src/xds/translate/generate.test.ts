import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { RESOURCE_TYPES, SHORT_TYPE, TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { Endpoint } from '../../registry/types.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from './index.js';
import { BoundedMemo } from './memo.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  grpcClientErrors,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
} from './testkit.js';

const A = 'a.default.svc.cluster.local';
const B = 'b.default.svc.cluster.local';
const HIDDEN = 'h.hidden.svc.cluster.local';
const SERVICES = [
  service(A, [http(80), grpc(9090)]),
  service(B, [http(80), tcp(5432)]),
  service(HIDDEN, [http(80)]),
];
const ENDPOINTS = [endpoint(A, '10.0.0.1'), endpoint(B, '10.0.0.2'), endpoint(HIDDEN, '10.0.0.3')];

const BASE: Resource[] = [
  res('Sidecar', 'default', 'default', { egress: [{ hosts: ['./*'] }] }),
  res('VirtualService', 'default', 'a', {
    hosts: ['a'],
    http: [
      {
        match: [{ sourceLabels: { canary: 'true' } }],
        route: [{ destination: { host: 'a', subset: 'v2' } }],
      },
      { route: [{ destination: { host: 'a' } }] },
    ],
  }),
  res('DestinationRule', 'default', 'a', { host: 'a', subsets: [{ name: 'v2', labels: { version: 'v2' } }] }),
  res('VirtualService', 'hidden', 'h', { hosts: ['h'], http: [{ route: [{ destination: { host: 'h' } }] }] }),
  res('Gateway', 'default', 'gw', {
    servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  }),
];

function push(resources = BASE, endpoints: readonly Endpoint[] = ENDPOINTS, revision = 1): PushContext {
  return buildPushContext(config(resources, revision), registry(SERVICES, endpoints, revision));
}

const names = (types: ReadonlySet<ResourceTypeUrl>): string[] => [...types].map((t) => SHORT_TYPE[t]).sort();

test('every generated resource encodes, for every proxy kind; proxyless gRPC would ACK its share', () => {
  const ctx = push();
  const proxies = [
    proxy(),
    proxy({ type: 'router', labels: { istio: 'ingressgateway' } }),
    proxy({ type: 'grpc' }),
  ];
  for (const p of proxies) {
    for (const type of RESOURCE_TYPES) {
      const out = generate(ctx, p, type);
      checkEncodes(type, out);
      if (p.type === 'grpc')
        assert.deepEqual(grpcClientErrors(type, out), [], `${SHORT_TYPE[type]} for grpc`);
    }
  }
});

test('proxies with the same key share one generated object; results are frozen', () => {
  const ctx = push();
  const p1 = proxy({
    id: 'sidecar~10.1.0.1~x.default~default.svc.cluster.local',
    ipAddresses: ['10.1.0.1'],
    labels: { app: 'x' },
  });
  const p2 = proxy({
    id: 'sidecar~10.1.0.2~y.default~default.svc.cluster.local',
    ipAddresses: ['10.1.0.2'],
    labels: { app: 'y' },
  });
  for (const type of [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]) {
    const r1 = generate(ctx, p1, type);
    assert.equal(generate(ctx, p2, type), r1, SHORT_TYPE[type]);
    assert.equal(generate(ctx, p1, type), r1);
  }
  const cds = generate(ctx, p1, TYPE.cluster);
  assert.ok(Object.isFrozen(cds.get(`outbound|80||${A}`)));
  const named = generate(ctx, p1, TYPE.endpoint, [`outbound|80||${A}`]);
  assert.equal(generate(ctx, p2, TYPE.endpoint, [`outbound|80||${A}`]), named);
  assert.equal(named.get(`outbound|80||${A}`), generate(ctx, p1, TYPE.endpoint).get(`outbound|80||${A}`));
});

test('labels enter the key only through the matches that use them', () => {
  const ctx = push();
  const plain = generate(ctx, proxy({ labels: { app: 'x' } }), TYPE.route);
  const canary = generate(ctx, proxy({ labels: { app: 'x', canary: 'true' } }), TYPE.route);
  assert.notEqual(canary, plain);
  const routesOf = (r: ReadonlyMap<string, object>): number =>
    (
      (r.get('80') as { virtual_hosts: { name: string; routes: unknown[] }[] }).virtual_hosts.find(
        (v) => v.name === `${A}:80`,
      )?.routes ?? []
    ).length;
  assert.equal(routesOf(plain), 1);
  assert.equal(routesOf(canary), 2);
  // The same labels elsewhere do not matter: CDS is shared.
  assert.equal(
    generate(ctx, proxy({ labels: { canary: 'true' } }), TYPE.cluster),
    generate(ctx, proxy({ labels: {} }), TYPE.cluster),
  );
  // A sidecar whose IP hosts an instance has inbound config; another does not.
  assert.notEqual(
    generate(ctx, proxy({ ipAddresses: ['10.0.0.1'] }), TYPE.listener),
    generate(ctx, proxy({ ipAddresses: ['10.7.7.7'] }), TYPE.listener),
  );
});

test('a change to an input in the key gives a new result', () => {
  const before = push();
  const changedRule = BASE.map((r) =>
    r.kind === 'DestinationRule'
      ? { ...r, spec: { host: 'a', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } } }
      : r,
  );
  const after = push(changedRule, ENDPOINTS, 2);
  const c1 = generate(before, proxy(), TYPE.cluster);
  const c2 = generate(after, proxy(), TYPE.cluster);
  assert.notEqual(c2, c1);
  assert.equal((c2.get(`outbound|80||${A}`) as { lb_policy: string }).lb_policy, 'RANDOM');
});

test('affectedTypes: endpoint-only change moves EDS only', () => {
  const before = push();
  const after = push(BASE, [...ENDPOINTS, endpoint(A, '10.0.0.9')], 2);
  assert.deepEqual(names(affectedTypes(before, after, proxy())), ['EDS']);
  assert.deepEqual(names(affectedTypes(before, after, proxy({ type: 'grpc' }))), ['EDS']);
});

test('affectedTypes: a VirtualService the proxy cannot see affects nothing', () => {
  const before = push();
  const changed = BASE.map((r) =>
    r.metadata.name === 'h'
      ? { ...r, spec: { hosts: ['h'], http: [{ timeout: '1s', route: [{ destination: { host: 'h' } }] }] } }
      : r,
  );
  const after = push(changed, ENDPOINTS, 2);
  assert.deepEqual(names(affectedTypes(before, after, proxy())), []);
  // A proxy in the hidden namespace (no Sidecar there) does see it.
  assert.deepEqual(names(affectedTypes(before, after, proxy({ namespace: 'hidden' }))), ['RDS']);
});

test('affectedTypes: visible VirtualService -> RDS; DestinationRule -> CDS and more; same content -> nothing', () => {
  const before = push();
  const vsChanged = BASE.map((r) =>
    r.metadata.name === 'a' && r.kind === 'VirtualService'
      ? { ...r, spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'b' } }] }] } }
      : r,
  );
  assert.deepEqual(names(affectedTypes(before, push(vsChanged, ENDPOINTS, 2), proxy())), ['RDS']);
  const drChanged = BASE.map((r) =>
    r.kind === 'DestinationRule'
      ? { ...r, spec: { host: 'a', subsets: [{ name: 'v3', labels: { version: 'v3' } }] } }
      : r,
  );
  assert.ok(names(affectedTypes(before, push(drChanged, ENDPOINTS, 2), proxy())).includes('CDS'));
  assert.deepEqual(names(affectedTypes(before, push(BASE, ENDPOINTS, 7), proxy())), []);
  // Gateways: the gateway's own resources.
  const router = proxy({ type: 'router', labels: { istio: 'ingressgateway' } });
  const gwChanged = BASE.map((r) =>
    r.kind === 'Gateway'
      ? { ...r, spec: { servers: [{ port: { number: 81, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } }
      : r,
  );
  assert.deepEqual(names(affectedTypes(before, push(gwChanged, ENDPOINTS, 2), router)), ['LDS', 'RDS']);
});

test('the memo is bounded: least recently used (by push) first, and what a push did not use goes', () => {
  const memo = new BoundedMemo<number>(2);
  let builds = 0;
  const get = (k: string): number => memo.getOrBuild(k, () => ++builds);
  assert.equal(get('a'), 1);
  assert.equal(get('b'), 2);
  memo.advance();
  assert.equal(get('a'), 1); // used in this push: a is now more recent than b
  assert.equal(get('c'), 3); // full: b goes
  assert.equal(memo.size, 2);
  assert.equal(get('a'), 1);
  assert.equal(get('b'), 4); // rebuilt; a, the oldest of this push, goes
  memo.advance();
  assert.equal(get('b'), 4);
  // c was not used during the previous push: dropped when the next one begins.
  memo.advance();
  assert.equal(memo.size, 1);
  assert.equal(get('b'), 4);
  assert.equal(get('c'), 5);
});
