import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { TYPE } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate, visibleServices } from './index.js';
import { egressAdmits } from './scope.js';
import { config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const SERVICES = [
  service('a.default.svc.cluster.local', [http(80)]),
  service('b.default.svc.cluster.local', [http(80)]),
  service('c.other.svc.cluster.local', [http(80)]),
  service('d.istio-system.svc.cluster.local', [http(80)]),
  service('private.other.svc.cluster.local', [http(80)], { exportTo: ['.'] }),
  service('api.example.com', [http(443)], { namespace: 'ext' }),
];

function visible(resources: Resource[], p: Partial<ProxyNode> = {}): readonly string[] {
  return visibleServices(buildPushContext(config(resources), registry(SERVICES)), proxy(p));
}

test('without a Sidecar a proxy sees every service exported to its namespace', () => {
  assert.deepEqual(visible([]), [
    'a.default.svc.cluster.local',
    'api.example.com',
    'b.default.svc.cluster.local',
    'c.other.svc.cluster.local',
    'd.istio-system.svc.cluster.local',
  ]);
  assert.ok(visible([], { namespace: 'other' }).includes('private.other.svc.cluster.local'));
});

test('Sidecar egress hosts scope what a proxy sees', () => {
  const rows: { hosts: string[]; want: string[] }[] = [
    { hosts: ['./*'], want: ['a.default.svc.cluster.local', 'b.default.svc.cluster.local'] },
    { hosts: ['other/*'], want: ['c.other.svc.cluster.local'] },
    { hosts: ['*/api.example.com'], want: ['api.example.com'] },
    {
      hosts: ['*/*.example.com', './b.default.svc.cluster.local'],
      want: ['api.example.com', 'b.default.svc.cluster.local'],
    },
    { hosts: ['~/*'], want: [] },
  ];
  for (const row of rows) {
    const sidecar = res('Sidecar', 'default', 'default', { egress: [{ hosts: row.hosts }] });
    assert.deepEqual(visible([sidecar]), row.want, row.hosts.join(' '));
  }
});

test('Sidecar precedence: workload selector, then namespace default, then root namespace default', () => {
  const root = res('Sidecar', 'istio-system', 'default', { egress: [{ hosts: ['./*', 'istio-system/*'] }] });
  const nsDefault = res('Sidecar', 'default', 'default', { egress: [{ hosts: ['other/*'] }] });
  const selected = res('Sidecar', 'default', 'special', {
    workloadSelector: { labels: { app: 'special' } },
    egress: [{ hosts: ['*/api.example.com'] }],
  });
  assert.deepEqual(visible([root], { namespace: 'default' }), [
    'a.default.svc.cluster.local',
    'b.default.svc.cluster.local',
    'd.istio-system.svc.cluster.local',
  ]);
  assert.deepEqual(visible([root, nsDefault]), ['c.other.svc.cluster.local']);
  assert.deepEqual(visible([root, nsDefault, selected], { labels: { app: 'special' } }), ['api.example.com']);
  assert.deepEqual(visible([root, nsDefault, selected], { labels: { app: 'plain' } }), [
    'c.other.svc.cluster.local',
  ]);
});

test('egress host entries', () => {
  const svc = service('x.team.svc.cluster.local', [http(80)]);
  const rows: [string, string, boolean][] = [
    ['*/*', 'default', true],
    ['team/*', 'default', true],
    ['./*', 'team', true],
    ['./*', 'default', false],
    ['*/x.team.svc.cluster.local', 'default', true],
    ['*/*.team.svc.cluster.local', 'default', true],
    ['*/y.team.svc.cluster.local', 'default', false],
    ['~/*', 'team', false],
  ];
  for (const [entry, ns, want] of rows)
    assert.equal(egressAdmits(entry, ns, svc), want, `${entry} from ${ns}`);
});

test('DestinationRule choice: workload selector, proxy namespace, service namespace, root namespace', () => {
  const host = 'c.other.svc.cluster.local';
  const dr = (
    ns: string,
    name: string,
    lb: 'RANDOM' | 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'PASSTHROUGH',
    extra = {},
  ) => res('DestinationRule', ns, name, { host, trafficPolicy: { loadBalancer: { simple: lb } }, ...extra });
  const lbOf = (resources: Resource[], p: Partial<ProxyNode> = {}): unknown => {
    const push = buildPushContext(config(resources), registry(SERVICES));
    const c: Loose = generate(push, proxy(p), TYPE.cluster).get(`outbound|80||${host}`);
    return c.lb_policy;
  };
  const root = dr('istio-system', 'root', 'ROUND_ROBIN');
  const svcNs = dr('other', 'svc', 'RANDOM');
  const local = dr('default', 'local', 'LEAST_REQUEST');
  const selected = dr('default', 'sel', 'PASSTHROUGH', { workloadSelector: { labels: { app: 'x' } } });
  assert.equal(lbOf([root]), 'ROUND_ROBIN');
  assert.equal(lbOf([root, svcNs]), 'RANDOM');
  assert.equal(lbOf([root, svcNs, local]), 'LEAST_REQUEST');
  assert.equal(lbOf([root, svcNs, local, selected], { labels: { app: 'x' } }), 'CLUSTER_PROVIDED');
  assert.equal(lbOf([root, svcNs, local, selected], { labels: { app: 'y' } }), 'LEAST_REQUEST');
  // A rule exported elsewhere does not apply.
  assert.equal(lbOf([dr('other', 'hidden', 'RANDOM', { exportTo: ['.'] })]), 'ROUND_ROBIN');
});

test('gateways are not scoped by Sidecar resources', () => {
  const sidecar = res('Sidecar', 'istio-system', 'default', { egress: [{ hosts: ['./*'] }] });
  assert.equal(visible([sidecar], { type: 'router', namespace: 'istio-system' }).length, 5);
  assert.equal(visible([sidecar], { type: 'grpc', namespace: 'istio-system' }).length, 1);
});

test('a Sidecar without egress sees every service exported to the namespace (Istio: */*)', () => {
  const all = visible([]);
  const rows: { spec: Record<string, unknown>; why: string }[] = [
    { spec: {}, why: 'no fields' },
    { spec: { egress: [] }, why: 'an empty egress list' },
    { spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }, why: 'only an outbound policy' },
    {
      spec: {
        ingress: [
          { port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint: '127.0.0.1:8080' },
        ],
      },
      why: 'only ingress',
    },
  ];
  for (const row of rows) {
    assert.deepEqual(visible([res('Sidecar', 'default', 'default', row.spec)]), all, row.why);
  }
  // Still scoped by exportTo: another namespace's private service stays hidden.
  assert.ok(!visible([res('Sidecar', 'default', 'default', {})]).includes('private.other.svc.cluster.local'));
  // An egress entry that names hosts is still a scope, not `*/*`.
  assert.deepEqual(visible([res('Sidecar', 'default', 'default', { egress: [{ hosts: ['other/*'] }] })]), [
    'c.other.svc.cluster.local',
  ]);
});
