import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import type { Resource } from '../../api/resource.js';
import type { RouterSpec } from '../../api/trellis/router.js';
import { advance, INITIAL_STATE, written, type RolloutState, type StepName } from './rollout.js';
import type { ConvergenceReport } from './convergence-report.js';
import { routerTarget, type RouterResources } from './target.js';

const router = (spec: Partial<RouterSpec>): Resource<RouterSpec> => ({
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'Router',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { port: 80, subsets: [{ branch: 'master', versions: { v1: 100 } }], ...spec },
});
const versions = (v: Record<string, number>) => router({ subsets: [{ branch: 'master', versions: v }] });

/** A store of the Router's resources, a set of proxies whose ACKs the test decides, a clock. */
function world() {
  const clock = new FakeClock(0);
  let current: RouterResources = {};
  let revision = 0;
  /** The store revision every proxy runs; a held proxy keeps it where it is. */
  let running = 0;
  let held: string | undefined;
  let state: RolloutState = INITIAL_STATE;
  const steps: StepName[] = [];
  const convergence = (rev: number): ConvergenceReport =>
    running >= rev
      ? { inEffect: true, proxies: 2, lagging: [] }
      : {
          inEffect: false,
          proxies: 2,
          lagging: [
            { proxy: 'id', name: held ?? 'web-1.shop', reason: held ? 'nack' : 'pending', detail: 'CDS' },
          ],
        };
  const key = {
    serviceEntry: 'ServiceEntry',
    destinationRule: 'DestinationRule',
    virtualService: 'VirtualService',
  } as const;
  return {
    clock,
    get state() {
      return state;
    },
    get current() {
      return current;
    },
    steps,
    hold(name: string | undefined) {
      held = name;
    },
    /** One controller tick toward `target`; proxies catch up unless held. */
    tick(target: RouterResources, timeoutMs = 30_000) {
      const d = advance(state, { current, target, now: clock.now(), timeoutMs, convergence });
      state = d.state;
      if (d.write) {
        const next = { ...current };
        for (const r of d.write.put)
          for (const [k, kind] of Object.entries(key))
            if (r.kind === kind) next[k as keyof RouterResources] = r;
        for (const r of d.write.remove)
          for (const [k, kind] of Object.entries(key))
            if (r.kind === kind) delete next[k as keyof RouterResources];
        current = next;
        revision++;
        steps.push(d.write.step);
        state = written(state, d.write, revision, clock.now());
      }
      if (held === undefined) running = revision;
    },
    /** Ticks until Ready (bounded). */
    settle(target: RouterResources) {
      for (let i = 0; i < 20; i++) {
        this.tick(target);
        clock.advance(100);
        if (this.state.phase === 'Ready' && this.state.waiting === undefined) break;
      }
      assert.equal(this.state.phase, 'Ready', this.state.message);
    },
  };
}

const subsetsOf = (r: RouterResources) =>
  ((r.destinationRule?.spec as { subsets: { name: string }[] } | undefined)?.subsets ?? []).map(
    (s) => s.name,
  );
const routeOf = (r: RouterResources) =>
  JSON.stringify(
    (r.virtualService?.spec as { http?: { route: unknown }[] } | undefined)?.http?.at(-1)?.route ?? null,
  );

test('rollout: subsets before routes when adding, routes before subsets when removing, each step gated', () => {
  const w = world();
  // Creation: the service and its subsets, then the route.
  w.settle(routerTarget(versions({ v1: 100 })));
  assert.deepEqual(w.steps, ['add-subsets', 'route']);
  assert.deepEqual(subsetsOf(w.current), ['master-v1']);

  // Add a version at 10%: the subset first; the route only once the subset is in effect.
  w.steps.length = 0;
  const canary = routerTarget(versions({ v1: 90, v2: 10 }));
  w.hold('slow-1.shop');
  w.tick(canary);
  assert.deepEqual(w.steps, ['add-subsets']);
  assert.deepEqual(subsetsOf(w.current), ['master-v1', 'master-v2']);
  assert.doesNotMatch(routeOf(w.current), /master-v2/, 'the route waits');
  w.clock.advance(1000);
  w.tick(canary);
  assert.equal(w.state.phase, 'Progressing');
  assert.match(w.state.message, /step add-subsets \(revision 3\) waits for 1 of 2 proxies/);
  assert.deepEqual(w.steps, ['add-subsets'], 'nothing written while a proxy lags');
  w.hold(undefined);
  w.settle(canary);
  assert.deepEqual(w.steps, ['add-subsets', 'route']);
  assert.match(routeOf(w.current), /"subset":"master-v2"\},"weight":10/);

  // Weights alone: one route step.
  w.steps.length = 0;
  w.settle(routerTarget(versions({ v1: 50, v2: 50 })));
  assert.deepEqual(w.steps, ['route']);

  // Remove the old version: the route first, then the subset.
  w.steps.length = 0;
  const done = routerTarget(versions({ v2: 100 }));
  w.hold('slow-1.shop');
  w.tick(done);
  assert.deepEqual(w.steps, ['route']);
  assert.deepEqual(subsetsOf(w.current), ['master-v1', 'master-v2'], 'v1 kept while a proxy may route to it');
  w.hold(undefined);
  w.settle(done);
  assert.deepEqual(w.steps, ['route', 'remove-subsets']);
  assert.deepEqual(subsetsOf(w.current), ['master-v2']);

  // Deleting the Router: the VirtualService goes first, then the rest.
  w.steps.length = 0;
  w.settle({});
  assert.deepEqual(w.steps, ['route', 'remove-subsets']);
  assert.deepEqual(w.current, {});
});

test('rollout: edits made while a step waits queue and merge; the latest target wins', () => {
  const w = world();
  w.settle(routerTarget(versions({ v1: 100 })));
  w.steps.length = 0;
  w.hold('slow-1.shop');
  w.tick(routerTarget(versions({ v1: 90, v2: 10 })));
  // Two more edits while the subset step waits: only the last one counts.
  w.tick(routerTarget(versions({ v1: 80, v2: 20 })));
  w.tick(routerTarget(versions({ v1: 70, v3: 30 })));
  assert.deepEqual(w.steps, ['add-subsets'], 'one change per service at a time');
  w.hold(undefined);
  const latest = routerTarget(versions({ v1: 70, v3: 30 }));
  w.settle(latest);
  // v3 needed its own subset step before the route could name it; v2 leaves at the end.
  assert.deepEqual(w.steps, ['add-subsets', 'add-subsets', 'route', 'remove-subsets']);
  assert.deepEqual(subsetsOf(w.current), ['master-v1', 'master-v3']);
  assert.match(routeOf(w.current), /"subset":"master-v3"\},"weight":30/);
});

test('rollout: a proxy that never takes a step stalls the rollout at the timeout, naming it; it resumes once it catches up', () => {
  const w = world();
  w.settle(routerTarget(versions({ v1: 100 })));
  w.steps.length = 0;
  const canary = routerTarget(versions({ v1: 90, v2: 10 }));
  w.hold('reviews-v9.shop');
  w.tick(canary);
  w.clock.advance(29_999);
  w.tick(canary);
  assert.equal(w.state.phase, 'Progressing', 'not yet');
  w.clock.advance(1);
  w.tick(canary);
  assert.equal(w.state.phase, 'Stalled');
  assert.match(
    w.state.message,
    /step add-subsets \(revision 3\) is not in effect after 30s: reviews-v9\.shop \(nack: CDS\)/,
  );
  assert.deepEqual(
    w.state.lagging.map((l) => l.name),
    ['reviews-v9.shop'],
  );
  assert.deepEqual(w.steps, ['add-subsets'], 'no route written while stalled');
  w.hold(undefined);
  w.tick(canary); // the proxy catches up (its ACK arrives)
  w.settle(canary);
  assert.deepEqual(w.steps, ['add-subsets', 'route']);
  assert.deepEqual(w.state.lagging, [], 'nobody holds it back any more');
  assert.equal(w.state.message, 'the target is in effect on every proxy');
});

test('rollout: an annotation-only change (sticky) is a route step; the same content written in another key order is none', () => {
  const w = world();
  assert.equal(w.state.inEffectRevision, -1, 'nothing in effect before the first step');
  w.settle(routerTarget(versions({ v1: 90, v2: 10 })));
  assert.equal(w.state.inEffectRevision, 2, 'the revision of the last step in effect');
  w.steps.length = 0;
  const sticky = routerTarget({
    ...versions({ v1: 90, v2: 10 }),
    spec: { ...versions({ v1: 90, v2: 10 }).spec, sticky: { header: 'x-user' } },
  });
  w.tick(sticky);
  assert.deepEqual(w.steps, ['route']);
  assert.match(w.state.message, /^step route \(revision 3\) written; waiting for the proxies$/);
  w.settle(sticky);

  // The same resources with their keys in another order: nothing to write.
  const reorder = (r: Resource | undefined): Resource | undefined =>
    r &&
    (JSON.parse(
      JSON.stringify(r, (_k, v: unknown) =>
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v as Record<string, unknown>).reverse())
          : v,
      ),
    ) as Resource);
  const shuffled: RouterResources = {
    serviceEntry: reorder(sticky.serviceEntry),
    destinationRule: reorder(sticky.destinationRule),
    virtualService: reorder(sticky.virtualService),
  };
  assert.notEqual(JSON.stringify(shuffled.virtualService), JSON.stringify(sticky.virtualService));
  w.steps.length = 0;
  w.settle(shuffled);
  assert.deepEqual(w.steps, []);
});
