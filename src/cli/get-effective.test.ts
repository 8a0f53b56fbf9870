import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isTrafficFilterKind,
  renderEffective,
  renderTrafficFilters,
  type EffectiveResource,
} from './get-effective.js';

const by = (filter: string, owner: string, priority: number) => ({ filter, owner, priority });

test('every field a filter set carries its comment, at any depth, quoted keys included', () => {
  const item: EffectiveResource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'shop', annotations: { 'trellis.io/retry-budget': 'off' } },
    spec: {
      host: 'reviews',
      subsets: [
        { name: 'v1' },
        {
          name: 'v2',
          trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'u', ttl: '0s' } } } },
        },
      ],
    },
    status: {
      provenance: {
        'metadata.annotations["trellis.io/retry-budget"]': by('shop/budget', 'platform', 0),
        'spec.subsets[1].trafficPolicy.loadBalancer.consistentHash.httpCookie': {
          ...by('shop/sticky', 'team', 3),
          sharedWith: ['shop/other'],
        },
      },
      conflicts: [],
      problems: [{ derivation: 'traffic-filter', severity: 'warning', path: 'spec', message: 'noted' }],
    },
  };
  const out = renderEffective(item);
  assert.match(out, /^ {4}trellis\.io\/retry-budget: off # shop\/budget \(owner platform, priority 0\)$/m);
  assert.match(out, /^ +# shop\/sticky \(owner team, priority 3, also shop\/other\)\n +httpCookie:$/m);
  assert.match(out, /^# warning: spec: noted$/m);
  assert.doesNotMatch(out, /status|subsets\[/);
});

test('a resource no filter touched says so', () => {
  const out = renderEffective({
    apiVersion: 'v1',
    kind: 'VirtualService',
    metadata: { name: 'a', namespace: 'b' },
    spec: { hosts: ['a'] },
  });
  assert.match(out, /^# No TrafficFilter sets any of its fields\.$/m);
  assert.doesNotMatch(out, / # /);
});

test('the trafficfilters table: target with route or subset, feature, rivals from conflicts only', () => {
  const tf = (
    name: string,
    spec: object,
    problems: { path: string; message: string }[] = [],
  ): EffectiveResource => ({
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'TrafficFilter',
    metadata: { name, namespace: 'shop' },
    spec: { owner: 'o', ...spec },
    status: { problems: problems.map((p) => ({ derivation: 'traffic-filter', severity: 'error', ...p })) },
  });
  const out = renderTrafficFilters(
    [
      tf(
        'a',
        { target: { host: 'reviews', subset: 'v2' }, priority: -1, loadBalancer: { simple: 'RANDOM' } },
        [
          {
            path: 'spec.loadBalancer.simple',
            message:
              'conflicts with TrafficFilter shop/b (owner x) and TrafficFilter shop/c (owner y) at the same priority -1: both set ...',
          },
        ],
      ),
      tf('d', { target: { host: 'reviews' }, timeout: '1s' }, [
        { path: 'spec.target.host', message: 'no VirtualService serves TrafficFilter x' },
      ]),
    ],
    { allNamespaces: false, nowMs: 0 },
  );
  const [, a, d] = out.split('\n').map((l) => l.split(/ {3,}/));
  assert.deepEqual(a?.slice(0, 6), [
    'a',
    'o',
    '-1',
    'reviews subset=v2',
    'loadBalancer',
    'shop/b (spec.loadBalancer.simple), shop/c (spec.loadBalancer.simple)',
  ]);
  assert.deepEqual(d?.slice(0, 6), ['d', 'o', '0', 'reviews', 'timeout', '-']);
  assert.match(out, /^error: shop\/d: spec\.target\.host: no VirtualService serves TrafficFilter x$/m);
});

test('trafficfilter kind names', () => {
  for (const k of ['tf', 'TrafficFilters', 'trafficfilter.trellis.io']) assert.ok(isTrafficFilterKind(k), k);
  for (const k of ['vs', 'traffic', 'tfs']) assert.ok(!isTrafficFilterKind(k), k);
});
