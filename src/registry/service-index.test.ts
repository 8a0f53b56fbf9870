import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import { isTrellisError } from '../core/errors.js';
import type { Resource } from '../api/resource.js';
import { contributionFromConfig } from './service-entries.js';
import { RegistrationSource, ServiceIndex } from './service-index.js';

const se = (name: string, spec: object, namespace = 'default'): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace },
  spec,
});
const we = (name: string, spec: object, namespace = 'default'): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadEntry',
  metadata: { name, namespace },
  spec,
});

test('ServiceEntry hosts and endpoints, with WorkloadEntries selected by labels', () => {
  const c = contributionFromConfig(
    [
      se('reviews', {
        hosts: ['reviews'],
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: [{ number: 9080, name: 'http' }],
        workloadSelector: { labels: { app: 'reviews' } },
        endpoints: [{ address: '10.0.0.9', labels: { version: 'v0' } }],
      }),
      se('httpbin', {
        hosts: ['httpbin.org'],
        resolution: 'DNS',
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      }),
    ],
    [
      we('reviews-v1', {
        address: '10.0.0.1',
        labels: { app: 'reviews', version: 'v1' },
        locality: 'us/a/1',
        weight: 3,
      }),
      we('reviews-v2', {
        address: '10.0.0.2',
        labels: { app: 'reviews', version: 'v2' },
        ports: { http: 19080 },
      }),
      we('other-ns', { address: '10.0.0.3', labels: { app: 'reviews' } }, 'prod'),
    ],
  );
  assert.deepEqual(
    c.services.map((s) => [
      s.hostname,
      s.location,
      s.resolution,
      s.ports.map((p) => `${p.name}/${p.number}/${p.protocol}`),
    ]),
    [
      ['reviews.default.svc.cluster.local', 'MESH_INTERNAL', 'STATIC', ['http/9080/HTTP']],
      ['httpbin.org', 'MESH_EXTERNAL', 'DNS', ['http/80/HTTP']],
    ],
  );
  assert.deepEqual(
    c.endpoints.map((e) => [e.hostname, e.address, e.ports.http, e.labels.version, e.locality, e.weight]),
    [
      ['reviews.default.svc.cluster.local', '10.0.0.9', 9080, 'v0', '', 1],
      ['reviews.default.svc.cluster.local', '10.0.0.1', 9080, 'v1', 'us/a/1', 3],
      ['reviews.default.svc.cluster.local', '10.0.0.2', 19080, 'v2', '', 1],
      ['httpbin.org', 'httpbin.org', 80, undefined, '', 1],
    ],
  );
});

// Which proxies and types a change affects is the translation's call (affectedTypes compares
// generator keys; test/integration/push-scope.test.ts: an endpoint-only change is an EDS-only
// push): the index only says that something changed, and never for an identical contribution.
test('index announces a change only when the merged view differs', () => {
  const index = new ServiceIndex();
  let changes = 0;
  index.onChange(() => changes++);
  const svc = se('reviews', {
    hosts: ['reviews'],
    resolution: 'STATIC',
    ports: [{ number: 9080, name: 'http' }],
    endpoints: [{ address: '10.0.0.1' }, { address: '10.0.0.3' }],
  });
  index.setSource('config', contributionFromConfig([svc], []));
  index.setSource('config', contributionFromConfig([svc], []));
  const reordered = se('reviews', {
    hosts: ['reviews'],
    resolution: 'STATIC',
    ports: [{ number: 9080, name: 'http' }],
    endpoints: [{ address: '10.0.0.3' }, { address: '10.0.0.1' }],
  });
  index.setSource('config', contributionFromConfig([reordered], []));
  assert.equal(changes, 1, 'an identical contribution, in any order, is not a change');
  const moved = se('reviews', {
    hosts: ['reviews'],
    resolution: 'STATIC',
    ports: [{ number: 9080, name: 'http' }],
    endpoints: [{ address: '10.0.0.2' }],
  });
  index.setSource('config', contributionFromConfig([moved], []));
  assert.equal(changes, 2);
  assert.equal(index.snapshot().version, 2);
  assert.deepEqual(
    index
      .snapshot()
      .endpoints('reviews.default.svc.cluster.local')
      .map((e) => e.address),
    ['10.0.0.2'],
  );
});

test('registered instances leave the index when heartbeats stop for their TTL', () => {
  const clock = new FakeClock();
  const index = new ServiceIndex();
  const reg = new RegistrationSource(index, { clock });
  const a = reg.register({
    service: 'ratings',
    address: '127.0.0.1',
    ports: { http: 9081 },
    labels: { version: 'v1' },
    ttlSeconds: 10,
  });
  reg.register({ service: 'ratings', address: '127.0.0.2', ports: { http: 9081 }, ttlSeconds: 10 });
  const host = 'ratings.default.svc.cluster.local';
  assert.deepEqual(index.snapshot().service(host)?.ports, [{ name: 'http', number: 9081, protocol: 'HTTP' }]);
  assert.equal(index.snapshot().endpoints(host).length, 2);
  clock.advance(6000);
  reg.heartbeat(a);
  clock.advance(6000);
  assert.deepEqual(
    index
      .snapshot()
      .endpoints(host)
      .map((e) => e.address),
    ['127.0.0.1'],
    'the silent one expired',
  );
  clock.advance(10_000);
  assert.equal(index.snapshot().endpoints(host).length, 0);
  assert.equal(index.snapshot().service(host), undefined);
  assert.throws(
    () => reg.heartbeat(a),
    (err) => isTrellisError(err, 'TRELLIS_NOT_FOUND'),
  );
});

test('deregister removes at once; config services take precedence over registrations', () => {
  const index = new ServiceIndex();
  const reg = new RegistrationSource(index, { clock: new FakeClock() });
  index.setSource(
    'config',
    contributionFromConfig(
      [
        se('reviews', {
          hosts: ['reviews'],
          location: 'MESH_INTERNAL',
          resolution: 'STATIC',
          ports: [{ number: 9080, name: 'http' }],
        }),
      ],
      [],
    ),
  );
  const id = reg.register({ service: 'reviews', address: '127.0.0.1', ports: { http: 19080 } });
  const host = 'reviews.default.svc.cluster.local';
  assert.equal(index.snapshot().service(host)?.source, 'ServiceEntry/default/reviews');
  assert.deepEqual(
    index
      .snapshot()
      .endpoints(host)
      .map((e) => e.ports.http),
    [19080],
  );
  assert.equal(reg.deregister(id), true);
  assert.equal(index.snapshot().endpoints(host).length, 0);
});

test('registration input is validated with field paths', () => {
  const reg = new RegistrationSource(new ServiceIndex(), { clock: new FakeClock() });
  const bad: [object, string][] = [
    [{ address: '1.2.3.4', ports: { http: 1 } }, 'service'],
    [{ service: 'a', ports: { http: 1 } }, 'address'],
    [{ service: 'a', address: '1.2.3.4', ports: {} }, 'ports'],
    [{ service: 'a', address: '1.2.3.4', ports: { http: 70000 } }, 'ports.http'],
    [{ service: 'a', address: '1.2.3.4', ports: { http: 1 }, ttlSeconds: 0 }, 'ttlSeconds'],
  ];
  for (const [input, path] of bad) {
    assert.throws(
      () => reg.register(input as never),
      (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && err.path === path,
      path,
    );
  }
});
