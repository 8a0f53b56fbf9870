import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import type { Resource } from '../../api/resource.js';
import type { RouterSpec } from '../../api/trellis/router.js';
import { validateResource } from '../../api/validate.js';
import { MemoryConfigStore } from '../../config/memory-store.js';
import { LayeredConfigStore } from '../../config/layered-store.js';
import { RouterController } from './controller.js';

const router = (versions: Record<string, number>): Resource<RouterSpec> => ({
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'Router',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { port: 80, subsets: [{ branch: 'master', versions }] },
});

function setup(labels: Record<string, string>[] = []) {
  const clock = new FakeClock(0);
  const user = new MemoryConfigStore((r) => validateResource(r));
  const layer = new MemoryConfigStore((r) => validateResource(r));
  let inEffect = true;
  const controller = new RouterController({
    layer,
    clock,
    convergence: () =>
      inEffect
        ? { inEffect: true, proxies: 1, lagging: [] }
        : {
            inEffect: false,
            proxies: 1,
            lagging: [{ proxy: 'p', name: 'web-1.shop', reason: 'pending', detail: 'CDS' }],
          },
    servedRevision: () => user.revision + layer.revision,
    workloadLabels: () => labels,
  });
  const settle = () => {
    for (let i = 0; i < 10; i++) controller.reconcile(user.snapshot());
  };
  return {
    user,
    layer,
    controller,
    settle,
    hold: (held: boolean) => (inEffect = !held),
  };
}

test('controller: writes a Router owned resources step by step, reports its status, and removes them with it', () => {
  const w = setup();
  w.user.apply(router({ v1: 100 }));
  w.controller.reconcile(w.user.snapshot());
  assert.deepEqual(
    w.layer.list('VirtualService').map((r) => r.metadata.name),
    [],
    'the first pass writes the service and subsets only',
  );
  assert.equal(w.controller.statuses()[0]?.step, 'add-subsets');
  w.settle();
  const [s] = w.controller.statuses();
  assert.equal(s?.phase, 'Ready');
  assert.equal(s?.host, 'web.shop.svc.cluster.local');
  assert.equal(s?.observedGeneration, w.user.get('Router', 'shop', 'web')?.metadata.resourceVersion);
  for (const kind of ['ServiceEntry', 'DestinationRule', 'VirtualService'])
    assert.equal(
      w.layer.get(kind, 'shop', 'web')?.metadata.annotations?.['trellis.io/owned-by'],
      'Router/shop/web',
      kind,
    );

  // A rollout waiting on a proxy is busy; once it is in effect, it is not.
  w.hold(true);
  w.user.apply(router({ v1: 50, v2: 50 }));
  w.settle();
  assert.equal(w.controller.busy(), true);
  assert.equal(w.controller.statuses()[0]?.phase, 'Progressing');
  assert.deepEqual(
    w.controller.statuses()[0]?.lagging.map((l) => l.name),
    ['web-1.shop'],
  );
  w.hold(false);
  w.settle();
  assert.equal(w.controller.busy(), false);

  // Deleted: its resources go (the route first), and its status with them.
  w.user.delete('Router', 'shop', 'web');
  w.controller.reconcile(w.user.snapshot());
  assert.equal(w.layer.get('VirtualService', 'shop', 'web'), undefined, 'the route goes first');
  assert.notEqual(w.layer.get('DestinationRule', 'shop', 'web'), undefined, 'the subsets wait for it');
  w.settle();
  assert.equal(w.layer.list('DestinationRule').length + w.layer.list('ServiceEntry').length, 0);
  assert.deepEqual(w.controller.statuses(), []);
});

test("controller: the user's own resources for the Router's host are reported as conflicts", () => {
  const w = setup();
  w.user.apply(router({ v1: 100 }));
  w.user.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'mine', namespace: 'shop' },
    spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] },
  });
  w.user.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'other-host', namespace: 'shop' },
    spec: { host: 'api' },
  });
  w.settle();
  assert.deepEqual(w.controller.statuses()[0]?.conflicts, ['VirtualService/shop/mine']);
});

test('controller: resources in the layer not owned by a Router are left alone', () => {
  const w = setup();
  w.layer.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] },
  });
  w.settle();
  assert.notEqual(w.layer.get('VirtualService', 'shop', 'web'), undefined);
  assert.deepEqual(w.controller.statuses(), []);
});

const userVs = (name: string, host: string, annotations?: Record<string, string>): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'shop', ...(annotations ? { annotations } : {}) },
  spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
});

test("controller: a user's resource with the Router's name is a conflict, and the Router does not write over it", () => {
  const w = setup();
  const served = new LayeredConfigStore([w.layer, w.user]);
  w.user.apply(userVs('web', 'legacy.shop.svc.cluster.local'));
  w.user.apply(router({ v1: 100 }));
  w.settle();
  assert.equal(
    (served.get('VirtualService', 'shop', 'web')?.spec as { hosts: string[] }).hosts[0],
    'legacy.shop.svc.cluster.local',
    "the user's VirtualService is still the one served",
  );
  assert.equal(w.layer.list('VirtualService').length + w.layer.list('DestinationRule').length, 0);
  assert.equal(w.layer.list('ServiceEntry').length, 0, 'nothing is written while the clash stands');
  const [s] = w.controller.statuses();
  assert.deepEqual(s?.conflicts, ['VirtualService/shop/web']);
  assert.equal(s?.phase, 'Stalled');
  assert.match(s?.message ?? '', /VirtualService\/shop\/web .*rename or delete VirtualService\/shop\/web/);
  assert.equal(w.controller.busy(), false, 'a clash waits for a config change, not a tick');

  // Renamed: the Router rolls out.
  w.user.delete('VirtualService', 'shop', 'web');
  w.user.apply(userVs('legacy', 'legacy.shop.svc.cluster.local'));
  w.settle();
  assert.equal(w.controller.statuses()[0]?.phase, 'Ready');
  assert.deepEqual(w.controller.statuses()[0]?.conflicts, []);
  assert.equal(
    served.get('VirtualService', 'shop', 'web')?.metadata.annotations?.['trellis.io/owned-by'],
    'Router/shop/web',
  );
  served.close();
});

test("controller: a clash claiming another Router's ownership, or arriving after the rollout, still stops the Router", () => {
  const w = setup();
  w.user.apply(router({ v1: 100 }));
  w.user.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'web', namespace: 'shop', annotations: { 'trellis.io/owned-by': 'Router/shop/other' } },
    spec: { host: 'db.shop.svc.cluster.local' },
  });
  w.settle();
  assert.equal(w.layer.list('ServiceEntry').length + w.layer.list('DestinationRule').length, 0);
  assert.deepEqual(w.controller.statuses()[0]?.conflicts, ['DestinationRule/shop/web']);

  w.user.delete('DestinationRule', 'shop', 'web');
  w.settle();
  assert.equal(w.controller.statuses()[0]?.phase, 'Ready');
  const before = JSON.stringify(w.layer.get('DestinationRule', 'shop', 'web')?.spec);
  // A user's ServiceEntry of the same name arrives later: the Router's next change is not written.
  w.user.apply({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      hosts: ['other.example.com'],
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      resolution: 'DNS',
    },
  });
  w.user.apply(router({ v1: 50, v2: 50 }));
  w.settle();
  assert.equal(JSON.stringify(w.layer.get('DestinationRule', 'shop', 'web')?.spec), before);
  const [s] = w.controller.statuses();
  assert.equal(s?.phase, 'Stalled');
  assert.deepEqual(s?.conflicts, ['ServiceEntry/shop/web']);
  assert.match(s?.message ?? '', /rename or delete ServiceEntry\/shop\/web/);
});

test('controller: endpoints of the host without the branch label are named in a warning', () => {
  const w = setup([
    { app: 'web', version: 'v1' },
    { app: 'web', version: 'v1' },
    { app: 'web', version: 'v1', branch: 'master' },
  ]);
  w.user.apply(router({ v1: 100 }));
  w.settle();
  const [s] = w.controller.statuses();
  assert.equal(s?.phase, 'Ready');
  assert.equal(s?.warnings.length, 1);
  assert.match(
    s?.warnings[0] ?? '',
    /^2 endpoints with labels \{app=web,version=v1\} lack the label branch .*label production workloads branch: master$/,
  );
  assert.match(s?.message ?? '', /warning: 2 endpoints with labels \{app=web,version=v1\}/);

  const labelled = setup([{ app: 'web', version: 'v1', branch: 'master' }]);
  labelled.user.apply(router({ v1: 100 }));
  labelled.settle();
  assert.deepEqual(labelled.controller.statuses()[0]?.warnings, []);
  assert.doesNotMatch(labelled.controller.statuses()[0]?.message ?? '', /warning/);
});
