import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import {
  compileOutlierDetection,
  OutlierDetector,
  type OutlierDetectionConfig,
  type UpstreamOutcome,
} from './outlier-detector.js';

const r5xx: UpstreamOutcome = { kind: 'response', status: 500 };
const r503: UpstreamOutcome = { kind: 'response', status: 503 };
const ok: UpstreamOutcome = { kind: 'response', status: 200 };

function detector(
  config: OutlierDetectionConfig,
  hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
) {
  const clock = new FakeClock(1000);
  const d = new OutlierDetector(compileOutlierDetection(config), { clock, random: seededRandom(1) });
  d.setHosts(hosts);
  return { d, clock };
}

function repeat(d: OutlierDetector, host: string, outcome: UpstreamOutcome, n: number): boolean[] {
  return Array.from({ length: n }, () => d.record(host, outcome));
}

test('defaults follow Envoy', () => {
  const s = compileOutlierDetection({});
  assert.equal(s.consecutive5xx, 5);
  assert.equal(s.intervalMs, 10_000);
  assert.equal(s.baseEjectionMs, 30_000);
  assert.equal(s.maxEjectionMs, 300_000);
  assert.equal(s.maxEjectionPercent, 10);
  assert.equal(s.enforcingGateway, 0);
  assert.equal(s.failurePercentage.enforcing, 0);
  assert.throws(
    () => compileOutlierDetection({ max_ejection_percent: { value: 101 } }, 'cluster.outlier_detection'),
    (e: unknown) =>
      isTrellisError(e, 'TRELLIS_INVALID_CONFIG') &&
      e.path === 'cluster.outlier_detection.max_ejection_percent',
  );
});

test('consecutive 5xx ejects on the Nth error; a success in between resets the count', () => {
  const { d } = detector({ consecutive_5xx: { value: 3 } });
  assert.deepEqual(repeat(d, 'a', r5xx, 2), [false, false]);
  d.record('a', ok);
  assert.deepEqual(repeat(d, 'a', r5xx, 3), [false, false, true]);
  assert.equal(d.isEjected('a'), true);
  assert.equal(d.stats.ejections_enforced_consecutive_5xx, 1);
  assert.equal(d.stats.ejections_active, 1);
});

test('ejection time grows with each ejection, capped by max_ejection_time, un-ejected at sweeps', () => {
  const { d, clock } = detector({
    consecutive_5xx: { value: 1 },
    interval: { seconds: 1 },
    base_ejection_time: { seconds: 10 },
    max_ejection_time: { seconds: 25 },
  });
  const timeOut = (): number => {
    d.record('a', r5xx);
    assert.equal(d.isEjected('a'), true);
    let waited = 0;
    // Bounded: a host that is never let back in fails here instead of hanging the test.
    while (d.isEjected('a') && waited < 60_000) {
      clock.advance(1000);
      waited += 1000;
      d.evaluate();
    }
    return waited;
  };
  assert.equal(timeOut(), 10_000);
  assert.equal(timeOut(), 20_000);
  assert.equal(timeOut(), 25_000);
  assert.deepEqual(d.snapshot().find((s) => s.address === 'a')?.ejections, 3);
});

test('a host that stays healthy earns its multiplier back one interval at a time', () => {
  const { d, clock } = detector({
    consecutive_5xx: { value: 1 },
    interval: { seconds: 1 },
    base_ejection_time: { seconds: 2 },
  });
  d.record('a', r5xx);
  clock.advance(2000);
  d.evaluate(); // back in, multiplier 1
  d.record('a', r5xx); // multiplier 2: 4s
  clock.advance(4000);
  d.evaluate();
  assert.equal(d.isEjected('a'), false);
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    d.evaluate();
  }
  d.record('a', r5xx); // multiplier dropped to 0, so this is 1 * base again
  assert.equal(d.snapshot().find((s) => s.address === 'a')?.ejectedUntil, clock.now() + 2000);
});

test('gateway failures eject only when enforced; default enforcing is 0', () => {
  const off = detector({ consecutive_5xx: { value: 100 }, consecutive_gateway_failure: { value: 2 } }).d;
  repeat(off, 'a', r503, 2);
  assert.equal(off.isEjected('a'), false);
  assert.equal(off.stats.ejections_detected_consecutive_gateway_failure, 1);
  const on = detector({
    consecutive_5xx: { value: 100 },
    consecutive_gateway_failure: { value: 2 },
    enforcing_consecutive_gateway_failure: { value: 100 },
  }).d;
  repeat(on, 'a', { kind: 'response', status: 502 }, 2);
  assert.equal(on.isEjected('a'), true);
  // A 500 is a 5xx but not a gateway failure: it breaks the gateway run.
  const mixed = detector({
    consecutive_5xx: { value: 100 },
    consecutive_gateway_failure: { value: 2 },
    enforcing_consecutive_gateway_failure: { value: 100 },
  }).d;
  mixed.record('a', r503);
  mixed.record('a', r5xx);
  mixed.record('a', r503);
  assert.equal(mixed.isEjected('a'), false);
});

test('local origin errors: counted as 5xx unless split, then on their own counter', () => {
  const joint = detector({ consecutive_5xx: { value: 2 } }).d;
  joint.record('a', { kind: 'connect-failure' });
  joint.record('a', { kind: 'timeout' });
  assert.equal(joint.isEjected('a'), true);
  const split = detector({
    consecutive_5xx: { value: 2 },
    split_external_local_origin_errors: true,
    consecutive_local_origin_failure: { value: 3 },
  }).d;
  repeat(split, 'a', { kind: 'connect-failure' }, 2);
  split.record('a', { kind: 'connect-success' });
  repeat(split, 'a', { kind: 'reset' }, 2);
  assert.equal(split.isEjected('a'), false);
  split.record('a', { kind: 'timeout' });
  assert.equal(split.isEjected('a'), true);
  assert.equal(split.stats.ejections_enforced_consecutive_local_origin_failure, 1);
});

test('max_ejection_percent caps ejections but always allows one', () => {
  const { d } = detector({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 25 } }, [
    'a',
    'b',
    'c',
    'd',
    'e',
    'f',
  ]);
  const ejected = ['a', 'b', 'c', 'd'].map((h) => d.record(h, r5xx));
  // 0% -> eject a; 16.7% < 25 -> eject b; 33% >= 25 -> overflow.
  assert.deepEqual(ejected, [true, true, false, false]);
  assert.equal(d.stats.ejections_overflow, 2);
  const tiny = detector({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 0 } }, ['a', 'b']).d;
  assert.deepEqual(
    ['a', 'b'].map((h) => tiny.record(h, r5xx)),
    [true, false],
  );
});

test('success rate ejection at the sweep: outliers below mean - 1.9 stdev', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f'];
  const { d } = detector({ consecutive_5xx: { value: 1000 }, max_ejection_percent: { value: 100 } }, hosts);
  for (const h of hosts) {
    const failures = h === 'f' ? 50 : 1;
    repeat(d, h, r5xx, failures);
    repeat(d, h, ok, 100 - failures);
  }
  assert.deepEqual(d.evaluate(), ['f']);
  assert.equal(d.stats.ejections_enforced_success_rate, 1);
  // Too few hosts with enough volume: nothing happens.
  const few = detector({ consecutive_5xx: { value: 1000 } }, hosts).d;
  for (const h of hosts.slice(0, 3)) {
    repeat(few, h, ok, 100);
  }
  repeat(few, 'e', r5xx, 100);
  assert.deepEqual(few.evaluate(), []);
});

test('failure percentage ejection when enforced', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  const { d } = detector(
    {
      consecutive_5xx: { value: 1000 },
      enforcing_failure_percentage: { value: 100 },
      max_ejection_percent: { value: 100 },
    },
    hosts,
  );
  for (const h of hosts) {
    const failures = h === 'c' ? 45 : 5;
    repeat(d, h, r503, failures);
    repeat(d, h, ok, 50 - failures);
  }
  assert.deepEqual(d.evaluate(), ['c']);
  assert.equal(d.snapshot().find((s) => s.address === 'a')?.successRate, 90);
});

test('setHosts forgets removed hosts and their active ejections', () => {
  const { d } = detector({ consecutive_5xx: { value: 1 } }, ['a', 'b']);
  d.record('a', r5xx);
  d.setHosts(['b', 'c']);
  assert.equal(d.stats.ejections_active, 0);
  assert.equal(d.isEjected('a'), false);
  assert.equal(d.record('zzz', r5xx), false);
});
