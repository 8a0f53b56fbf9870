import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import { buildPushContext } from '../translate/push-context.js';
import { config, http, registry, res, service } from '../translate/testkit.js';
import { missingSubsets } from './destination-subsets.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

const vs = (namespace: string, host: string, subsets: string[], extra: object = {}) =>
  res('VirtualService', namespace, 'reviews', {
    hosts: [host],
    http: [
      { route: subsets.map((subset) => ({ destination: { host, subset }, weight: 100 / subsets.length })) },
    ],
    ...extra,
  });
const dr = (namespace: string, host: string, subsets: string[], extra: object = {}) =>
  res('DestinationRule', namespace, `reviews-${subsets.join('-')}`, {
    host,
    subsets: subsets.map((name) => ({ name, labels: { version: name } })),
    ...extra,
  });

function analyze(resources: Resource[]): string[] {
  const push = buildPushContext(config(resources), registry([service(REVIEWS, [http(9080)])]));
  return missingSubsets(push).map((m) => `${m.resource.metadata.namespace}/${m.path} ${m.reference}`);
}

const cases: { name: string; resources: Resource[]; expected: string[] }[] = [
  {
    name: 'a canary VirtualService before its DestinationRule',
    resources: [vs('default', 'reviews', ['v1', 'v2']), dr('default', 'reviews', ['v1'])],
    expected: ['default/spec.http[0].route[1].destination.subset reviews+v2'],
  },
  {
    name: 'no DestinationRule at all',
    resources: [vs('default', 'reviews', ['v1'])],
    expected: ['default/spec.http[0].route[0].destination.subset reviews+v1'],
  },
  {
    name: 'every subset defined, short name and FQDN alike',
    resources: [vs('default', 'reviews', ['v1', 'v2']), dr('default', REVIEWS, ['v1', 'v2'])],
    expected: [],
  },
  {
    name: "a rule in the service's namespace, seen from another namespace",
    resources: [vs('shop', REVIEWS, ['v2']), dr('default', 'reviews', ['v1', 'v2'])],
    expected: [],
  },
  {
    name: 'a short name resolves in the VirtualService namespace, not the rule’s',
    resources: [vs('shop', 'reviews', ['v2']), dr('default', 'reviews', ['v1', 'v2'])],
    expected: ['shop/spec.http[0].route[0].destination.subset reviews+v2'],
  },
  {
    name: 'a rule exported only to its own namespace does not reach another',
    resources: [vs('shop', REVIEWS, ['v2']), dr('default', 'reviews', ['v2'], { exportTo: ['.'] })],
    expected: ['shop/spec.http[0].route[0].destination.subset reviews.default.svc.cluster.local+v2'],
  },
  {
    name: "the client namespace's rule decides, as in the generated clusters (no merging)",
    resources: [
      vs('shop', REVIEWS, ['v2']),
      dr('shop', REVIEWS, ['v1']),
      dr('default', 'reviews', ['v1', 'v2']),
    ],
    expected: ['shop/spec.http[0].route[0].destination.subset reviews.default.svc.cluster.local+v2'],
  },
  {
    name: 'a wildcard rule defines subsets for the hosts it covers',
    resources: [vs('default', 'reviews', ['v2']), dr('default', '*.default.svc.cluster.local', ['v2'])],
    expected: [],
  },
  {
    name: 'mirrors and TCP routes are checked too',
    resources: [
      res('VirtualService', 'default', 'reviews', {
        hosts: ['reviews'],
        http: [
          {
            route: [{ destination: { host: 'reviews' } }],
            mirror: { host: 'reviews', subset: 'shadow' },
            mirrors: [{ destination: { host: 'reviews', subset: 'v3' } }],
          },
        ],
        tcp: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }],
      }),
      dr('default', 'reviews', ['v1']),
    ],
    expected: [
      'default/spec.http[0].mirror.subset reviews+shadow',
      'default/spec.http[0].mirrors[0].destination.subset reviews+v3',
    ],
  },
];

for (const c of cases) {
  test(`missing subsets: ${c.name}`, () => {
    assert.deepEqual(analyze(c.resources), c.expected);
  });
}

test('the message is Istio’s IST0101 and says what it costs', () => {
  const push = buildPushContext(
    config([vs('default', 'reviews', ['v2'])]),
    registry([service(REVIEWS, [http(9080)])]),
  );
  const [m] = missingSubsets(push);
  assert.match(
    m?.message ?? '',
    /^\[IST0101\] Referenced host\+subset in destinationrule not found: "reviews\+v2"/,
  );
  assert.match(m?.message ?? '', /503 NC/);
});
