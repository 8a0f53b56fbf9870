/**
 * A table of broken configurations and the codes `trellis analyze` gives them, one analyzer
 * concern per row, each beside the fixed version that must be silent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import { endpoint, http, registry, res, service } from '../translate/testkit.js';
import { referenceFindings } from './references.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

/** reviews v1/v2 and ratings v1 in default; one workload in namespace other. */
const mesh = registry(
  [
    service(REVIEWS, [http(9080)]),
    service(RATINGS, [http(9080)]),
    service('api.other.svc.cluster.local', [http(80)]),
    service('*.example.com', [http(443)], { namespace: 'default' }),
  ],
  [
    endpoint(REVIEWS, '127.0.0.1', { labels: { app: 'reviews', version: 'v1' } }),
    endpoint(REVIEWS, '127.0.0.2', { labels: { app: 'reviews', version: 'v2' } }),
    endpoint(RATINGS, '127.0.0.3', { labels: { app: 'ratings', version: 'v1' } }),
    endpoint('api.other.svc.cluster.local', '127.0.0.4', { labels: { app: 'api' }, namespace: 'other' }),
  ],
);

const vs = (name: string, spec: object, namespace = 'default') =>
  res('VirtualService', namespace, name, spec);
const route = (host: string, subset?: string) => ({
  route: [{ destination: { host, ...(subset ? { subset } : {}) } }],
});
const gateway = (name: string, namespace = 'default') =>
  res('Gateway', namespace, name, { selector: { istio: 'ingressgateway' }, servers: [] });
const dr = (name: string, host: string, subsets: Record<string, string>[] = [], extra: object = {}) =>
  res('DestinationRule', 'default', name, {
    host,
    subsets: subsets.map((labels, i) => ({ name: `s${i}`, labels })),
    ...extra,
  });
const sidecar = (labels: Record<string, string> | undefined, namespace = 'default') =>
  res('Sidecar', namespace, 'sc', {
    ...(labels ? { workloadSelector: { labels } } : {}),
    egress: [{ hosts: ['./*'] }],
  });

interface Row {
  name: string;
  resources: Resource[];
  /** Whether the registry is known in full (a manifest); default yes. */
  withRegistry?: boolean;
  /** `CODE kind/name path`, in order. */
  expected: string[];
}

const rows: Row[] = [
  {
    name: 'a VirtualService bound to a Gateway that does not exist',
    resources: [vs('bookinfo', { hosts: ['*'], gateways: ['bookinfo-gateway'], http: [route('reviews')] })],
    expected: ['IST0101 VirtualService/bookinfo spec.gateways[0]'],
  },
  {
    name: 'the Gateway exists (short name, ns/name, and the reserved mesh)',
    resources: [
      gateway('bookinfo-gateway'),
      gateway('shared', 'istio-system'),
      vs('bookinfo', {
        hosts: ['*'],
        gateways: ['bookinfo-gateway', 'istio-system/shared', 'mesh'],
        http: [route('reviews')],
      }),
    ],
    expected: [],
  },
  {
    name: 'a Gateway of the same name in another namespace does not count',
    resources: [
      gateway('bookinfo-gateway', 'other'),
      vs('bookinfo', { hosts: ['*'], gateways: ['bookinfo-gateway'] }),
    ],
    expected: ['IST0101 VirtualService/bookinfo spec.gateways[0]'],
  },
  {
    name: 'a destination host, and a mirror host, no service has',
    resources: [
      vs('r', { hosts: ['reviews'], http: [{ ...route('reviewz'), mirror: { host: 'ratingz' } }] }),
      vs('t', { hosts: ['tcp.example'], tcp: [route('nope.other.svc.cluster.local')] }),
    ],
    expected: [
      'IST0101 VirtualService/r spec.http[0].route[0].destination.host',
      'IST0101 VirtualService/r spec.http[0].mirror.host',
      'IST0101 VirtualService/t spec.tcp[0].route[0].destination.host',
    ],
  },
  {
    name: 'only a Gateway counts as a gateway: a DestinationRule of that name does not',
    resources: [dr('gw', 'reviews'), vs('bookinfo', { hosts: ['*'], gateways: ['gw'] })],
    expected: ['IST0101 VirtualService/bookinfo spec.gateways[0]'],
  },
  {
    name: 'every kind of destination is checked: mirrors, tls routes; redirects have none',
    resources: [
      vs('m', {
        hosts: ['reviews'],
        http: [
          {
            ...route('reviews'),
            mirrors: [{ destination: { host: 'mirror-a' } }, { destination: { host: 'reviews' } }],
          },
          { redirect: { uri: '/x' } },
        ],
        tls: [{ match: [{ sniHosts: ['reviews'] }], ...route('tls-backend') }],
      }),
    ],
    expected: [
      'IST0101 VirtualService/m spec.http[0].mirrors[0].destination.host',
      'IST0101 VirtualService/m spec.tls[0].route[0].destination.host',
    ],
  },
  {
    name: 'a wildcard destination host is not judged; a rule for a wildcard host covering services is fine',
    resources: [
      vs('w', { hosts: ['reviews'], http: [route('*.example.com')] }),
      dr('wild', '*.default.svc.cluster.local'),
      dr('covered', 'billing.example.com'),
    ],
    expected: [],
  },
  {
    name: 'a rule for a wildcard host matching no service (IST0174)',
    resources: [dr('wild', '*.nowhere.example')],
    expected: ['IST0174 DestinationRule/wild spec.host'],
  },
  {
    name: 'hosts that exist: short, FQDN, another namespace, covered by a wildcard ServiceEntry',
    resources: [
      vs('r', {
        hosts: ['reviews'],
        http: [
          route('reviews'),
          route(RATINGS),
          route('api.other.svc.cluster.local'),
          route('billing.example.com'),
        ],
      }),
    ],
    expected: [],
  },
  {
    name: 'without the registry, hosts, rule hosts, subsets and selectors are not judged',
    withRegistry: false,
    resources: [
      vs('r', { hosts: ['reviews'], http: [route('reviewz')] }),
      dr('d', 'nothing', [{ version: 'v9' }]),
      sidecar({ app: 'ghost' }),
    ],
    expected: [],
  },
  {
    name: 'a DestinationRule for a host no service has (IST0174)',
    resources: [dr('d', 'reviewz')],
    expected: ['IST0174 DestinationRule/d spec.host'],
  },
  {
    name: 'a subset whose labels select no workload of its host (IST0173); one that does is fine',
    resources: [dr('d', 'reviews', [{ version: 'v1' }, { version: 'v3' }, { app: 'ratings' }])],
    expected: [
      'IST0173 DestinationRule/d spec.subsets[1].labels',
      'IST0173 DestinationRule/d spec.subsets[2].labels',
    ],
  },
  {
    name: 'a Sidecar whose selector matches no workload in its namespace (IST0101 selector)',
    resources: [sidecar({ app: 'api' }), sidecar({ app: 'reviews', version: 'v2' }, 'default')],
    expected: ['IST0101 Sidecar/sc spec.workloadSelector.labels'],
  },
  {
    name: 'a Sidecar without a selector, or selecting a workload of its namespace, is fine',
    resources: [sidecar(undefined), sidecar({ app: 'api' }, 'other')],
    expected: [],
  },
  {
    name: 'two mesh VirtualServices for one host, short and FQDN (IST0109 on both)',
    resources: [
      vs('a', { hosts: ['reviews'], http: [route('reviews')] }),
      vs('b', { hosts: [REVIEWS], http: [route('reviews')] }),
    ],
    expected: ['IST0109 VirtualService/a spec.hosts[0]', 'IST0109 VirtualService/b spec.hosts[0]'],
  },
  {
    name: 'the same host at a gateway and in the mesh, or in two namespaces short-named, is no conflict',
    resources: [
      gateway('gw'),
      vs('a', { hosts: ['reviews'], http: [route('reviews')] }),
      vs('b', { hosts: ['reviews'], gateways: ['gw'], http: [route('reviews')] }),
      vs('c', { hosts: ['reviews'], http: [route('api')] }, 'other'),
    ],
    expected: [],
  },
  {
    name: 'exportTo separates scopes; a host exported everywhere conflicts with each scope',
    resources: [
      vs('a', { hosts: [RATINGS], exportTo: ['.'], http: [route('ratings')] }),
      vs('b', { hosts: [RATINGS], exportTo: ['other'], http: [route(RATINGS)] }, 'other'),
      vs('c', { hosts: [REVIEWS], exportTo: ['.'], http: [route('reviews')] }),
      vs('d', { hosts: [REVIEWS], http: [route(REVIEWS)] }, 'other'),
    ],
    expected: ['IST0109 VirtualService/c spec.hosts[0]', 'IST0109 VirtualService/d spec.hosts[0]'],
  },
  {
    name: 'exportTo [] and [*] mean every namespace; a VirtualService is reported once for a host in two scopes',
    resources: [
      vs('a', { hosts: [RATINGS], exportTo: [], http: [route(RATINGS)] }),
      vs('b', { hosts: [RATINGS], exportTo: ['*'], http: [route(RATINGS)] }, 'other'),
      vs('c', { hosts: [REVIEWS, 'reviews'], exportTo: ['.', 'default'], http: [route(REVIEWS)] }),
      vs('d', { hosts: [REVIEWS], exportTo: ['default'], http: [route(REVIEWS)] }),
    ],
    expected: [
      'IST0109 VirtualService/a spec.hosts[0]',
      'IST0109 VirtualService/b spec.hosts[0]',
      'IST0109 VirtualService/c spec.hosts[0]',
      'IST0109 VirtualService/d spec.hosts[0]',
    ],
  },
  {
    name: 'the older of two rules is the one applied, wherever it is listed; selector label order does not matter',
    resources: [
      {
        ...dr('new', 'reviews'),
        metadata: { ...dr('new', 'reviews').metadata, creationTimestamp: '2024-02-01T00:00:00Z' },
      },
      {
        ...dr('old', 'reviews'),
        metadata: { ...dr('old', 'reviews').metadata, creationTimestamp: '2024-01-01T00:00:00Z' },
      },
      dr('sel-a', 'ratings', [], { workloadSelector: { labels: { app: 'ratings', version: 'v1' } } }),
      dr('sel-b', 'ratings', [], { workloadSelector: { labels: { version: 'v1', app: 'ratings' } } }),
    ],
    expected: ['TRL0101 DestinationRule/new spec.host', 'TRL0101 DestinationRule/sel-b spec.host'],
  },
  {
    name: 'a Sidecar with an empty selector applies to the namespace: not judged',
    resources: [res('Sidecar', 'default', 'empty', { workloadSelector: { labels: {} } })],
    expected: [],
  },
  {
    name: "exportTo '.' is the VirtualService's namespace; one exported to two conflicting scopes is reported once",
    resources: [
      vs('a', { hosts: [RATINGS], exportTo: ['.'], http: [route(RATINGS)] }),
      vs('b', { hosts: [RATINGS], exportTo: ['default'], http: [route(RATINGS)] }, 'other'),
      vs('c', { hosts: [REVIEWS], exportTo: ['.', 'other'], http: [route(REVIEWS)] }),
      vs('d', { hosts: [REVIEWS], exportTo: ['.'], http: [route(REVIEWS)] }),
      vs('e', { hosts: [REVIEWS], exportTo: ['.'], http: [route(REVIEWS)] }, 'other'),
    ],
    expected: [
      'IST0109 VirtualService/a spec.hosts[0]',
      'IST0109 VirtualService/b spec.hosts[0]',
      'IST0109 VirtualService/c spec.hosts[0]',
      'IST0109 VirtualService/d spec.hosts[0]',
      'IST0109 VirtualService/e spec.hosts[0]',
    ],
  },
  {
    name: 'Sidecars without a selector, or with an empty one, are not judged even where no workload runs',
    resources: [
      sidecar(undefined, 'ghosttown'),
      res('Sidecar', 'ghosttown', 'empty', { workloadSelector: { labels: {} } }),
    ],
    expected: [],
  },
  {
    name: 'a wildcard destination host matching no service is not judged',
    resources: [vs('w', { hosts: ['reviews'], http: [route('*.nowhere.example')] })],
    expected: [],
  },
  {
    name: 'two DestinationRules for one host in one namespace (TRL0101 on the later one)',
    resources: [dr('first', 'reviews', [{ version: 'v1' }]), dr('second', REVIEWS, [{ version: 'v2' }])],
    expected: ['TRL0101 DestinationRule/second spec.host'],
  },
  {
    name: 'rules for one host with different workload selectors, or other hosts, do not conflict',
    resources: [
      dr('first', 'reviews'),
      dr('selected', 'reviews', [], { workloadSelector: { labels: { app: 'ratings' } } }),
      dr('other', 'ratings'),
    ],
    expected: [],
  },
];

test('reference analyzers: a table of broken configurations and their codes', () => {
  for (const row of rows) {
    const found = referenceFindings({
      resources: row.resources,
      ...(row.withRegistry === false ? {} : { registry: mesh }),
    }).map((f) => `${f.type.code} ${f.resource.kind}/${f.resource.metadata.name} ${f.path}`);
    assert.deepEqual(found, row.expected, row.name);
  }
});

test('reference analyzers: messages carry the code, the name as written and what to do', () => {
  const [gw, host, conflict] = referenceFindings({
    resources: [
      vs('bookinfo', { hosts: ['*'], gateways: ['bookinfo-gateway'], http: [route('reviewz')] }),
      dr('first', 'reviews'),
      dr('second', 'reviews', [{ version: 'v2' }]),
    ],
    registry: mesh,
  });
  const more = referenceFindings({
    resources: [
      vs('m', { hosts: ['reviews'], http: [{ ...route('reviews'), mirror: { host: 'ratingz' } }] }),
      dr('subsets', 'ratings', [{ app: 'ratings', version: 'v2' }]),
      dr('subsets-again', 'ratings', [{ app: 'ratings' }]),
      sidecar({ app: 'ghost', tier: 'web' }),
      vs('m2', { hosts: ['reviews'] }, 'default'),
    ],
    registry: mesh,
  }).map((f) => f.message);
  assert.deepEqual(more, [
    '[IST0101] Referenced mirror host not found: "ratingz" (no service ratingz.default.svc.cluster.local; requests routed to it fail with 503 NC)',
    '[IST0173] The Subset s0 defined in the DestinationRule does not select any pods (no workload of ratings.default.svc.cluster.local has app=ratings,version=v2); traffic routed to it fails with 503 UH',
    '[IST0101] Referenced selector not found: "app=ghost,tier=web" (no workload in namespace default has these labels, so this Sidecar applies to nothing)',
    '[IST0109] The VirtualServices default/m,default/m2 associated with mesh gateway define the same host reviews.default.svc.cluster.local; only one of them routes it. Merge them into a single VirtualService',
    '[IST0109] The VirtualServices default/m,default/m2 associated with mesh gateway define the same host reviews.default.svc.cluster.local; only one of them routes it. Merge them into a single VirtualService',
    '[TRL0101] DestinationRules default/subsets and default/subsets-again are both for ratings.default.svc.cluster.local: Trellis applies only subsets. Merge them into one rule',
  ]);
  const kinds = referenceFindings({
    resources: [
      vs('k', {
        hosts: ['reviews', REVIEWS],
        http: [{ ...route('reviews'), mirrors: [{ destination: { host: 'copy' } }] }],
        tls: [{ match: [{ sniHosts: ['reviews'] }], ...route('tls-backend') }],
      }),
      vs('k2', { hosts: ['reviews'] }),
      dr('nowhere', 'nowhere'),
      dr('two-lost', 'reviews', [{ version: 'v1' }]),
      dr('two-lost-b', 'reviews', [{ version: 'v1' }, { version: 'v2' }, { version: 'v2' }]),
    ],
    registry: mesh,
  }).map((f) => f.message);
  assert.deepEqual(kinds, [
    '[IST0101] Referenced mirror host not found: "copy" (no service copy.default.svc.cluster.local; requests routed to it fail with 503 NC)',
    '[IST0101] Referenced host not found: "tls-backend" (no service tls-backend.default.svc.cluster.local; requests routed to it fail with 503 NC)',
    '[IST0174] The host nowhere defined in the DestinationRule does not match any services in the mesh (no service nowhere.default.svc.cluster.local)',
    '[IST0109] The VirtualServices default/k,default/k2 associated with mesh gateway define the same host reviews.default.svc.cluster.local; only one of them routes it. Merge them into a single VirtualService',
    '[IST0109] The VirtualServices default/k,default/k2 associated with mesh gateway define the same host reviews.default.svc.cluster.local; only one of them routes it. Merge them into a single VirtualService',
    '[TRL0101] DestinationRules default/two-lost and default/two-lost-b are both for reviews.default.svc.cluster.local: Trellis applies only two-lost, so subsets s1, s2 of this one do not exist. Merge them into one rule',
  ]);
  assert.equal(
    gw?.message,
    '[IST0101] Referenced gateway not found: "bookinfo-gateway" (no Gateway default/bookinfo-gateway; the VirtualService\'s routes are served at no gateway)',
  );
  assert.equal(
    host?.message,
    '[IST0101] Referenced host not found: "reviewz" (no service reviewz.default.svc.cluster.local; requests routed to it fail with 503 NC)',
  );
  assert.equal(
    conflict?.message,
    '[TRL0101] DestinationRules default/first and default/second are both for reviews.default.svc.cluster.local: Trellis applies only first, so subsets s0 of this one do not exist. Merge them into one rule',
  );
});
