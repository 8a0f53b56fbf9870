import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import type { RouterSpec } from '../../api/trellis/router.js';
import { validateResource } from '../../api/validate.js';
import { routerTarget, stableSubset } from './target.js';

const router = (spec: Partial<RouterSpec>, name = 'sm-verify-web'): Resource<RouterSpec> => ({
  apiVersion: 'router.service-mesh.zhihu.com/v1',
  kind: 'Router',
  metadata: { name, namespace: 'sm-verify' },
  spec: {
    port: 9090,
    protocol: 'http',
    subsets: [{ branch: 'master', versions: { 'v1.0.1': 90, 'v1.0.2': 10 } }, { branch: 'box-0999' }],
    ...spec,
  },
});

test("the issue's Router: service, subsets per branch and version, lane route first, owned and valid", () => {
  const t = routerTarget(router({}));
  const host = 'sm-verify-web.sm-verify.svc.cluster.local';
  for (const r of [t.serviceEntry, t.destinationRule, t.virtualService]) {
    assert.ok(r);
    assert.equal(r.metadata.annotations?.['trellis.io/owned-by'], 'Router/sm-verify/sm-verify-web');
    assert.deepEqual(
      validateResource(r).filter((p) => p.severity === 'error'),
      [],
      `${r.kind} is valid Istio config`,
    );
  }
  assert.deepEqual(t.serviceEntry?.spec, {
    hosts: [host],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    ports: [{ number: 9090, name: 'http-9090', protocol: 'HTTP' }],
    workloadSelector: { labels: { app: 'sm-verify-web' } },
  });
  assert.deepEqual(t.destinationRule?.spec, {
    host,
    subsets: [
      { name: 'master-v1-0-1', labels: { branch: 'master', version: 'v1.0.1' } },
      { name: 'master-v1-0-2', labels: { branch: 'master', version: 'v1.0.2' } },
      { name: 'box-0999', labels: { branch: 'box-0999' } },
    ],
  });
  assert.deepEqual(t.virtualService?.spec, {
    hosts: [host],
    http: [
      {
        name: 'lane-box-0999',
        match: [{ headers: { 'x-trellis-lane': { exact: 'box-0999' } } }],
        route: [{ destination: { host, subset: 'box-0999' } }],
      },
      {
        name: 'production',
        route: [
          { destination: { host, subset: 'master-v1-0-1' }, weight: 90 },
          { destination: { host, subset: 'master-v1-0-2' }, weight: 10 },
        ],
      },
    ],
  });
  assert.equal(t.virtualService?.metadata.annotations?.['trellis.io/fallback-subset'], 'master-v1-0-1');
  assert.equal(t.virtualService?.metadata.annotations?.['trellis.io/sticky-canary'], undefined);
});

test('Router target options: host, labels, sticky, fallback, tcp, zero weights, branches without workloads', () => {
  const cases: [
    string,
    Partial<RouterSpec>,
    { workloadLabels?: Record<string, string>[] },
    (t: ReturnType<typeof routerTarget>) => void,
  ][] = [
    [
      'explicit short host is qualified',
      { host: 'web' },
      {},
      (t) =>
        assert.deepEqual((t.serviceEntry?.spec as { hosts: string[] }).hosts, [
          'web.sm-verify.svc.cluster.local',
        ]),
    ],
    [
      'sticky header',
      { sticky: { header: 'x-user-id' } },
      {},
      (t) =>
        assert.equal(
          t.virtualService?.metadata.annotations?.['trellis.io/sticky-canary'],
          'header:x-user-id',
        ),
    ],
    [
      'sticky cookie',
      { sticky: { cookie: 'uid' } },
      {},
      (t) => assert.equal(t.virtualService?.metadata.annotations?.['trellis.io/sticky-canary'], 'cookie:uid'),
    ],
    [
      'no fallback',
      { fallback: false },
      {},
      (t) => assert.equal(t.virtualService?.metadata.annotations?.['trellis.io/fallback-subset'], undefined),
    ],
    [
      'custom labels',
      { versionLabel: 'ver', branchLabel: 'lane' },
      {},
      (t) =>
        assert.deepEqual((t.destinationRule?.spec as { subsets: { labels: object }[] }).subsets[0]?.labels, {
          lane: 'master',
          ver: 'v1.0.1',
        }),
    ],
    [
      'a zero weight stays a subset but leaves the route',
      { subsets: [{ branch: 'master', versions: { v1: 100, v2: 0 } }] },
      {},
      (t) => {
        assert.equal((t.destinationRule?.spec as { subsets: unknown[] }).subsets.length, 2);
        assert.deepEqual((t.virtualService?.spec as { http: { route: unknown }[] }).http.at(-1)?.route, [
          { destination: { host: 'sm-verify-web.sm-verify.svc.cluster.local', subset: 'master-v1' } },
        ]);
      },
    ],
    [
      'tcp: one weighted tcp route, no lanes',
      { protocol: 'tcp' },
      {},
      (t) => {
        const spec = t.virtualService?.spec as { http?: unknown; tcp: { route: unknown[] }[] };
        assert.equal(spec.http, undefined);
        assert.equal(spec.tcp[0]?.route.length, 2);
      },
    ],
    [
      'a sandbox without workloads has no lane route',
      {},
      { workloadLabels: [{ branch: 'master', version: 'v1.0.1' }] },
      (t) =>
        assert.deepEqual(
          (t.virtualService?.spec as { http: { name: string }[] }).http.map((r) => r.name),
          ['production'],
        ),
    ],
    [
      'a sandbox with workloads has one',
      {},
      { workloadLabels: [{ branch: 'box-0999' }] },
      (t) =>
        assert.deepEqual(
          (t.virtualService?.spec as { http: { name: string }[] }).http.map((r) => r.name),
          ['lane-box-0999', 'production'],
        ),
    ],
  ];
  for (const [name, spec, options, check] of cases) {
    const t = routerTarget(router(spec), options);
    for (const r of [t.serviceEntry, t.destinationRule, t.virtualService])
      assert.deepEqual(
        validateResource(r).filter((p) => p.severity === 'error'),
        [],
        `${name}: ${r?.kind}`,
      );
    check(t);
  }
});

test('the stable subset is the production version with the highest weight, the first on a tie', () => {
  assert.equal(
    stableSubset(router({ subsets: [{ branch: 'master', versions: { a: 10, b: 90 } }] }).spec),
    'master-b',
  );
  assert.equal(
    stableSubset(router({ subsets: [{ branch: 'master', versions: { a: 50, b: 50 } }] }).spec),
    'master-a',
  );
  assert.equal(stableSubset(router({ subsets: [{ branch: 'master' }] }).spec), 'master');
});
