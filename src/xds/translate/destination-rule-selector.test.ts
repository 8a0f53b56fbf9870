// A DestinationRule's workloadSelector is Istio's `matchLabels` (istio.type.v1beta1): it picks
// the workloads of the rule's namespace it applies to; `labels` (Trellis's earlier spelling)
// means the same; an empty selector picks every workload of that namespace and no other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { validateResource } from '../../api/validate.js';
import { TYPE } from '../../protocol/protos.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import { config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const HOST = 'ratings.default.svc.cluster.local';
const SERVICES = [service(HOST, [http(9080)])];

function lbOf(resources: Resource[], p: Partial<ProxyNode>): unknown {
  for (const r of resources) {
    const errors = validateResource(r).filter((x) => x.severity === 'error');
    assert.deepEqual(errors, [], `${r.metadata.name} is valid`);
  }
  const push = buildPushContext(config(resources), registry(SERVICES));
  const c: Loose = generate(push, proxy(p), TYPE.cluster).get(`outbound|9080||${HOST}`);
  return c.lb_policy;
}

const base = res('DestinationRule', 'default', 'base', {
  host: HOST,
  trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
});
const selecting = (name: string, workloadSelector: object) =>
  res('DestinationRule', 'default', name, {
    host: HOST,
    workloadSelector,
    trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
  });

const ROWS: [string, object, Partial<ProxyNode>, string][] = [
  [
    'matchLabels picks the labelled workload',
    { matchLabels: { app: 'web' } },
    { labels: { app: 'web' } },
    'LEAST_REQUEST',
  ],
  [
    'matchLabels leaves other workloads to the plain rule',
    { matchLabels: { app: 'web' } },
    { labels: { app: 'cli' } },
    'RANDOM',
  ],
  ['labels means the same', { labels: { app: 'web' } }, { labels: { app: 'web' } }, 'LEAST_REQUEST'],
  [
    'an empty selector picks every workload of the namespace',
    {},
    { labels: { app: 'cli' } },
    'LEAST_REQUEST',
  ],
  [
    'an empty selector does not reach another namespace',
    {},
    { namespace: 'other', labels: { app: 'web' } },
    'RANDOM',
  ],
];

for (const [name, selector, p, want] of ROWS) {
  test(`DestinationRule workloadSelector: ${name}`, () => {
    assert.equal(lbOf([base, selecting('sel', selector)], p), want);
  });
}
