// Envoy outlier detection, the decisions the basic tests leave open: which settings are read,
// enforcement odds, jitter, the multiplier's way back, the interval sweeps' thresholds and
// boundaries, the local-origin split, and what the admin snapshot shows. Semantics from
// Envoy's source/extensions/outlier_detection (detector_impl.cc) and the v3 OutlierDetection
// docs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../core/clock.js';
import { isTrellisError } from '../../core/errors.js';
import type { Random } from '../../core/random.js';
import {
  compileOutlierDetection,
  OutlierDetector,
  type OutlierDetectionConfig,
  type UpstreamOutcome,
} from './outlier-detector.js';

const r500: UpstreamOutcome = { kind: 'response', status: 500 };
const ok: UpstreamOutcome = { kind: 'response', status: 200 };

function detector(config: OutlierDetectionConfig, hosts: string[], random: Random = () => 0, start = 1000) {
  const clock = new FakeClock(start);
  const d = new OutlierDetector(compileOutlierDetection(config), { clock, random });
  d.setHosts(hosts);
  return { d, clock };
}

function traffic(d: OutlierDetector, host: string, failures: number, total: number, failure = r500): void {
  for (let i = 0; i < failures; i++) d.record(host, failure);
  for (let i = failures; i < total; i++) d.record(host, ok);
}

const snap = (d: OutlierDetector, host: string) => d.snapshot().find((s) => s.address === host)!;

test('every enforcing and threshold setting is read from its own field', () => {
  const s = compileOutlierDetection({
    enforcing_consecutive_5xx: { value: 11 },
    enforcing_consecutive_local_origin_failure: { value: 12 },
    enforcing_success_rate: { value: 13 },
    enforcing_local_origin_success_rate: { value: 14 },
    failure_percentage_threshold: { value: 15 },
    enforcing_failure_percentage: { value: 16 },
    enforcing_failure_percentage_local_origin: { value: 17 },
    enforcing_consecutive_gateway_failure: { value: 18 },
    max_ejection_percent: { value: 19 },
  });
  assert.equal(s.enforcing5xx, 11);
  assert.equal(s.enforcingLocal, 12);
  assert.equal(s.successRate.enforcing, 13);
  assert.equal(s.successRate.enforcingLocal, 14);
  assert.equal(s.failurePercentage.threshold, 15);
  assert.equal(s.failurePercentage.enforcing, 16);
  assert.equal(s.failurePercentage.enforcingLocal, 17);
  assert.equal(s.enforcingGateway, 18);
  assert.equal(s.maxEjectionPercent, 19);
});

test('percentages outside 0..100 and zero interval or ejection time are rejected', () => {
  const bad = (c: OutlierDetectionConfig) => assert.throws(() => compileOutlierDetection(c), isTrellisError);
  bad({ enforcing_success_rate: { value: -1 } });
  bad({ max_ejection_percent: { value: 101 } });
  bad({ interval: { seconds: 0 } });
  bad({ base_ejection_time: { seconds: 0 } });
  assert.equal(compileOutlierDetection({ enforcing_success_rate: { value: 0 } }).successRate.enforcing, 0);
  assert.equal(compileOutlierDetection({ interval: { nanos: 1_000_000 } }).intervalMs, 1);
});

test('a 504 is a gateway failure, like 502 and 503', () => {
  const { d } = detector(
    {
      consecutive_5xx: { value: 100 },
      consecutive_gateway_failure: { value: 2 },
      enforcing_consecutive_gateway_failure: { value: 100 },
    },
    ['a'],
  );
  d.record('a', { kind: 'response', status: 504 });
  assert.equal(d.record('a', { kind: 'response', status: 504 }), true);
  assert.equal(d.stats.ejections_enforced_consecutive_gateway_failure, 1);
});

test('without the local-origin split, a successful connect is not a response and counts nothing', () => {
  const { d } = detector({ consecutive_5xx: { value: 2 } }, ['a']);
  d.record('a', r500);
  assert.equal(d.record('a', { kind: 'connect-success' }), false);
  assert.equal(d.record('a', r500), true);
});

test('enforcement is a draw: enforcing N% ejects when the draw is below N', () => {
  const config = { consecutive_5xx: { value: 1 }, enforcing_consecutive_5xx: { value: 50 } };
  const drawn = (draw: number) => {
    const { d } = detector(config, ['a', 'b'], () => draw);
    return [d.record('a', r500), d.isEjected('a'), d.stats.ejections_detected_consecutive_5xx];
  };
  assert.deepEqual(drawn(0.49), [true, true, 1]);
  assert.deepEqual(drawn(0.5), [false, false, 1]);
  assert.deepEqual(drawn(0.7), [false, false, 1]);
});

test('an ejected host is not ejected again, so its ejection time is not stretched', () => {
  const { d, clock } = detector({ consecutive_5xx: { value: 1 } }, ['a']);
  assert.equal(d.record('a', r500), true);
  const until = snap(d, 'a').ejectedUntil;
  for (let i = 0; i < 5; i++) assert.equal(d.record('a', r500), false);
  assert.equal(snap(d, 'a').ejectedUntil, until);
  assert.equal(snap(d, 'a').ejections, 1);
  assert.equal(d.stats.ejections_enforced_total, 1);
  assert.equal(until, clock.now() + 30_000);
});

test('max_ejection_percent: reaching the percentage exactly already overflows', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  const { d } = detector({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 10 } }, hosts);
  assert.equal(d.record('a', r500), true);
  // One of ten is 10%, at the limit: the second ejection overflows.
  assert.equal(d.record('b', r500), false);
  assert.equal(d.stats.ejections_overflow, 1);
});

test('max_ejection_time_jitter adds a random part of the jitter to the ejection time', () => {
  const { d, clock } = detector(
    { consecutive_5xx: { value: 1 }, max_ejection_time_jitter: { seconds: 1 } },
    ['a', 'b'],
    () => 0.25,
  );
  d.record('a', r500);
  assert.equal(snap(d, 'a').ejectedUntil, clock.now() + 30_000 + 250);
  const none = detector({ consecutive_5xx: { value: 1 } }, ['a', 'b'], () => 0.25);
  none.d.record('a', r500);
  assert.equal(snap(none.d, 'a').ejectedUntil, none.clock.now() + 30_000);
});

test('the ejection multiplier drops only after a whole interval back in', () => {
  const config = {
    consecutive_5xx: { value: 1 },
    interval: { seconds: 10 },
    base_ejection_time: { seconds: 30 },
  };
  const run = (backInMs: number) => {
    // A clock far from zero, so time arithmetic that drops the ejection time shows.
    const { d, clock } = detector(
      config,
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
      () => 0,
      5_000_000,
    );
    d.record('a', r500);
    clock.advance(30_000);
    assert.deepEqual(d.evaluate(), ['a']);
    clock.advance(backInMs);
    d.evaluate();
    d.record('a', r500);
    return snap(d, 'a').ejectedUntil! - clock.now();
  };
  // Back in for less than an interval: the second ejection is twice the base.
  assert.equal(run(5_000), 60_000);
  // Back in for exactly one interval: the multiplier is back to 0, so the base again.
  assert.equal(run(10_000), 30_000);
});

test('removing an ejected host releases its share of active ejections', () => {
  const { d } = detector({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 50 } }, [
    'a',
    'b',
    'c',
  ]);
  d.record('a', r500);
  assert.equal(d.stats.ejections_active, 1);
  d.setHosts(['b', 'c']);
  assert.equal(d.stats.ejections_active, 0);
  assert.equal(d.isEjected('a'), false);
  // A host that stays keeps its state; a removed one comes back fresh.
  d.record('b', r500);
  d.setHosts(['a', 'b', 'c']);
  assert.equal(d.isEjected('b'), true);
  assert.equal(d.stats.ejections_active, 1);
  assert.equal(snap(d, 'a').ejections, 0);
});

test('success rate: hosts at the mean are never ejected, even when all are equal', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  const { d } = detector({ consecutive_5xx: { value: 1000 }, max_ejection_percent: { value: 100 } }, hosts);
  for (const h of hosts) traffic(d, h, 10, 100);
  assert.deepEqual(d.evaluate(), []);
  assert.equal(d.stats.ejections_detected_success_rate, undefined);
});

test('success rate: the threshold is mean minus stdev_factor times the standard deviation', () => {
  // Rates 100, 100, 100, 100, 80: mean 96, stdev 8. Factor 1.9 -> 80.8 (80 is out);
  // factor 2.5 -> 76 (80 stays).
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  const run = (factor: number) => {
    const { d } = detector(
      {
        consecutive_5xx: { value: 1000 },
        max_ejection_percent: { value: 100 },
        success_rate_stdev_factor: { value: factor },
      },
      hosts,
    );
    for (const h of hosts) traffic(d, h, h === 'e' ? 20 : 0, 100);
    return d.evaluate();
  };
  assert.deepEqual(run(1900), ['e']);
  assert.deepEqual(run(2500), []);
});

test('success rate and failure percentage need minimum_hosts hosts with request_volume requests', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  const sr = (minimum: number, volume: number) => {
    const { d } = detector(
      {
        consecutive_5xx: { value: 1000 },
        max_ejection_percent: { value: 100 },
        success_rate_minimum_hosts: { value: minimum },
        success_rate_request_volume: { value: volume },
      },
      hosts,
    );
    for (const h of hosts.slice(0, 4)) traffic(d, h, 0, 100);
    traffic(d, 'e', 60, 100);
    return d.evaluate();
  };
  assert.deepEqual(sr(5, 100), ['e']);
  assert.deepEqual(sr(6, 100), []);
  assert.deepEqual(sr(5, 101), []);
  const fp = (minimum: number, volume: number, failures = 30) => {
    const { d } = detector(
      {
        consecutive_5xx: { value: 1000 },
        max_ejection_percent: { value: 100 },
        enforcing_failure_percentage: { value: 100 },
        failure_percentage_threshold: { value: 30 },
        failure_percentage_minimum_hosts: { value: minimum },
        failure_percentage_request_volume: { value: volume },
      },
      ['a', 'b'],
    );
    traffic(d, 'a', failures, 100);
    traffic(d, 'b', 0, 100);
    return d.evaluate();
  };
  // Failure percentage at the threshold ejects (Envoy: failure % >= threshold).
  assert.deepEqual(fp(2, 100), ['a']);
  assert.deepEqual(fp(2, 100, 29), []);
  assert.deepEqual(fp(3, 100), []);
  assert.deepEqual(fp(2, 101), []);
  assert.deepEqual(fp(0, 0, 0), []);
});

test('with the split, local-origin results feed their own sweeps', () => {
  const { d } = detector(
    {
      split_external_local_origin_errors: true,
      enforcing_consecutive_local_origin_failure: { value: 0 },
      enforcing_failure_percentage_local_origin: { value: 100 },
      failure_percentage_threshold: { value: 60 },
      failure_percentage_minimum_hosts: { value: 2 },
      failure_percentage_request_volume: { value: 10 },
      max_ejection_percent: { value: 100 },
    },
    ['a', 'b'],
  );
  for (let i = 0; i < 10; i++) {
    assert.equal(d.record('a', { kind: 'connect-failure' }), false);
    d.record('b', { kind: 'connect-success' });
  }
  for (let i = 0; i < 5; i++) d.record('a', { kind: 'connect-success' });
  assert.deepEqual(d.evaluate(), ['a']);
  assert.equal(d.stats.ejections_enforced_failure_percentage_local_origin, 1);
  // External failure percentage is off by default: the same pattern on responses ejects nothing.
  assert.equal(d.stats.ejections_enforced_failure_percentage, undefined);
});

test('external failure-percentage ejections are counted under their Envoy stat name', () => {
  const { d } = detector(
    {
      consecutive_5xx: { value: 1000 },
      enforcing_failure_percentage: { value: 100 },
      failure_percentage_minimum_hosts: { value: 1 },
      failure_percentage_request_volume: { value: 10 },
      max_ejection_percent: { value: 100 },
    },
    ['a'],
  );
  traffic(d, 'a', 10, 10);
  assert.deepEqual(d.evaluate(), ['a']);
  assert.equal(d.stats.ejections_enforced_failure_percentage, 1);
  assert.equal(d.stats.ejections_detected_failure_percentage, 1);
});

test('the snapshot shows a success rate only for hosts with traffic, per interval', () => {
  const { d } = detector({ consecutive_5xx: { value: 1000 } }, ['a', 'b']);
  traffic(d, 'a', 1, 4);
  d.evaluate();
  assert.equal(snap(d, 'a').successRate, 75);
  assert.equal('successRate' in snap(d, 'b'), false);
  assert.equal('ejectedUntil' in snap(d, 'a'), false);
  // The next interval starts from zero.
  traffic(d, 'a', 0, 2);
  d.evaluate();
  assert.equal(snap(d, 'a').successRate, 100);
  d.evaluate();
  assert.equal('successRate' in snap(d, 'a'), false);
});

test('record() reports true only for the result that ejected the host (the caller rebuilds its balancer then)', () => {
  const { d } = detector({ consecutive_5xx: { value: 2 }, interval: { seconds: 3 } }, ['a']);
  assert.equal(d.intervalMs, 3000);
  assert.equal(d.record('a', ok), false);
  assert.equal(d.record('a', r500), false);
  assert.equal(d.record('a', r500), true);
  assert.equal(d.record('a', ok), false);
  const split = detector({ split_external_local_origin_errors: true }, ['a']).d;
  assert.equal(split.record('a', { kind: 'connect-success' }), false);
  assert.equal(split.record('a', ok), false);
});

test('a host ejected for gateway errors is not ejected again when the 5xx count catches up', () => {
  const { d } = detector(
    {
      consecutive_gateway_failure: { value: 2 },
      enforcing_consecutive_gateway_failure: { value: 100 },
      consecutive_5xx: { value: 3 },
      max_ejection_percent: { value: 100 },
    },
    ['a', 'b'],
  );
  const r503: UpstreamOutcome = { kind: 'response', status: 503 };
  assert.deepEqual([d.record('a', r503), d.record('a', r503), d.record('a', r503)], [false, true, false]);
  assert.equal(snap(d, 'a').ejections, 1);
  assert.equal(d.stats.ejections_enforced_consecutive_5xx, undefined);
});

test('removing a host that is not ejected leaves the active ejection count alone', () => {
  const { d } = detector({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 100 } }, [
    'a',
    'b',
    'c',
  ]);
  d.record('a', r500);
  d.setHosts(['a', 'c']);
  assert.equal(d.stats.ejections_active, 1);
  assert.equal(d.isEjected('a'), true);
});

test('ejected and idle hosts do not count toward a sweep minimum_hosts', () => {
  const fp = (hosts: string[]) =>
    detector(
      {
        consecutive_5xx: { value: 5 },
        max_ejection_percent: { value: 100 },
        enforcing_failure_percentage: { value: 100 },
        failure_percentage_minimum_hosts: { value: 2 },
        failure_percentage_request_volume: { value: 0 },
      },
      hosts,
    ).d;
  // a is ejected for 5xx during the interval; b fails everything but is alone in the sweep.
  const ejected = fp(['a', 'b']);
  traffic(ejected, 'a', 5, 5);
  assert.equal(ejected.isEjected('a'), true);
  for (let i = 0; i < 4; i++) ejected.record('b', r500);
  assert.deepEqual(ejected.evaluate(), []);
  // c had no traffic at all: it is not rated even with request_volume 0.
  const idle = fp(['b', 'c']);
  for (let i = 0; i < 4; i++) idle.record('b', r500);
  assert.deepEqual(idle.evaluate(), []);
});

test('local-origin success-rate ejection, counted under its own stat, in any interval', () => {
  const hosts = ['a', 'b', 'c'];
  const { d } = detector(
    {
      split_external_local_origin_errors: true,
      enforcing_consecutive_local_origin_failure: { value: 0 },
      success_rate_minimum_hosts: { value: 3 },
      success_rate_request_volume: { value: 10 },
      success_rate_stdev_factor: { value: 1000 },
      max_ejection_percent: { value: 100 },
    },
    hosts,
  );
  const local = (host: string, failures: number, total: number) => {
    for (let i = 0; i < failures; i++) d.record(host, { kind: 'connect-failure' });
    for (let i = failures; i < total; i++) d.record(host, { kind: 'connect-success' });
  };
  for (const h of hosts) local(h, 0, 10);
  assert.deepEqual(d.evaluate(), []);
  local('a', 0, 10);
  local('b', 0, 10);
  local('c', 9, 10);
  // Rates 100, 100, 10: mean 70, stdev 42.4; factor 1.0 -> threshold 27.6.
  assert.deepEqual(d.evaluate(), ['c']);
  assert.equal(d.stats.ejections_enforced_local_origin_success_rate, 1);
  assert.equal(d.stats.ejections_enforced_success_rate, undefined);
});
