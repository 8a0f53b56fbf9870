import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { LaneMemory } from '../policy/lane-memory.js';
import type { LaneFilterConfig } from '../policy/lanes.js';
import { applyLaneFilter, laneFilterOf } from './lanes.js';
import type { HttpConnectionManagerConfig } from '../model/config.js';
import type { HeaderMap } from './downstream.js';

const INBOUND: LaneFilterConfig = { direction: 'INBOUND', acceptExternal: false };
const OUTBOUND: LaneFilterConfig = { direction: 'OUTBOUND', acceptExternal: false };
const SANDBOXED: LaneFilterConfig = { direction: 'OUTBOUND', ownLane: 'box-own', acceptExternal: false };
const GATEWAY: LaneFilterConfig = { direction: 'GATEWAY', acceptExternal: false };
const OPEN_GATEWAY: LaneFilterConfig = { direction: 'GATEWAY', acceptExternal: true };
const TP = (n: number) => `00-${n.toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`;

function run(config: LaneFilterConfig, headers: HeaderMap, memory = new LaneMemory(new FakeClock())) {
  const counts: string[] = [];
  const lane = applyLaneFilter(headers, config, memory, (n) => counts.push(n));
  return { lane, headers, counts };
}

test('outbound: the request lane, else the remembered one, else the own branch', () => {
  const memory = new LaneMemory(new FakeClock());
  applyLaneFilter({ 'x-trellis-lane': 'box-x', traceparent: TP(1) }, INBOUND, memory, () => undefined);
  applyLaneFilter({ baggage: 'trellis-lane=box-y', 'x-request-id': 'r2' }, INBOUND, memory, () => undefined);
  const cases: [LaneFilterConfig, HeaderMap, string | undefined][] = [
    [OUTBOUND, { traceparent: TP(1) }, 'box-x'],
    [OUTBOUND, { 'x-request-id': 'r2' }, 'box-y'],
    [OUTBOUND, { 'x-request-id': 'r3' }, undefined],
    [OUTBOUND, { 'x-trellis-lane': 'box-z', traceparent: TP(1) }, 'box-z'],
    [SANDBOXED, {}, 'box-own'],
    [SANDBOXED, { traceparent: TP(1) }, 'box-x'],
    [SANDBOXED, { baggage: 'trellis-lane=box-b' }, 'box-b'],
    // master is production, explicitly: neither the remembered lane nor the own branch is added.
    [SANDBOXED, { 'x-trellis-lane': 'master' }, undefined],
    [OUTBOUND, { 'x-trellis-lane': 'master', traceparent: TP(1) }, undefined],
  ];
  for (const [config, headers, want] of cases) {
    const r = run(config, { ...headers }, memory);
    assert.equal(r.lane, want, JSON.stringify(headers));
    if (want !== undefined) assert.equal(r.headers['x-trellis-lane'], want);
  }
});

test('a lane header that names no lane is removed before routing, and counted', () => {
  for (const bad of [['box-x', 'box-y'], 'box-x, box-y', '', 'x'.repeat(64), 'box x']) {
    const r = run(OUTBOUND, { 'x-trellis-lane': bad });
    assert.equal(r.lane, undefined);
    assert.equal(r.headers['x-trellis-lane'], undefined, JSON.stringify(bad));
    assert.deepEqual(r.counts, ['invalid']);
  }
});

test('inbound: a request in no lane forgets its keys, so a reused trace id is not pulled into a lane', () => {
  const memory = new LaneMemory(new FakeClock());
  run(INBOUND, { 'x-trellis-lane': 'box-x', traceparent: TP(7) }, memory);
  assert.equal(run(OUTBOUND, { traceparent: TP(7) }, memory).lane, 'box-x');
  run(INBOUND, { traceparent: TP(7) }, memory);
  assert.equal(run(OUTBOUND, { traceparent: TP(7) }, memory).lane, undefined);
});

test('gateway: lanes from outside are stripped, header and baggage member, other baggage kept', () => {
  const r = run(GATEWAY, {
    'x-trellis-lane': 'box-x',
    baggage: ['user=alice', 'Trellis-Lane=box-x'],
    traceparent: TP(1),
  });
  assert.equal(r.lane, undefined);
  assert.deepEqual(r.headers, { baggage: 'user=alice', traceparent: TP(1) });
  assert.deepEqual(r.counts, ['stripped']);
  const only = run(GATEWAY, { baggage: 'trellis-lane=box-x' });
  assert.deepEqual(only.headers, {});
  const none = run(GATEWAY, { baggage: 'user=alice' });
  assert.deepEqual(none.headers, { baggage: 'user=alice' });
  assert.deepEqual(none.counts, []);
});

test('gateway accepting lanes: the baggage lane becomes the header routes match', () => {
  const r = run(OPEN_GATEWAY, { baggage: 'trellis-lane=box-x' });
  assert.equal(r.lane, 'box-x');
  assert.equal(r.headers['x-trellis-lane'], 'box-x');
});

test('what a request with no lane keeps: its headers as they were, nothing remembered or counted', () => {
  const memory = new LaneMemory(new FakeClock());
  for (const config of [INBOUND, OUTBOUND, OPEN_GATEWAY, GATEWAY]) {
    const r = run(config, { traceparent: TP(3), 'x-request-id': 'q' }, memory);
    assert.equal(r.lane, undefined);
    assert.deepEqual(r.headers, { traceparent: TP(3), 'x-request-id': 'q' });
    assert.deepEqual(r.counts, []);
  }
  assert.equal(memory.size, 0);
  // A valid lane is no invalid header; the own branch is counted as entered.
  assert.deepEqual(run(INBOUND, { 'x-trellis-lane': 'box-x' }).counts, []);
  assert.deepEqual(run(SANDBOXED, {}).counts, ['entered']);
});

test('a gateway accepting lanes neither recalls nor adds one: only what the caller sent', () => {
  const memory = new LaneMemory(new FakeClock());
  run(INBOUND, { 'x-trellis-lane': 'box-x', traceparent: TP(4) }, memory);
  assert.equal(run(OPEN_GATEWAY, { traceparent: TP(4) }, memory).lane, undefined);
  assert.equal(run(INBOUND, { traceparent: TP(4), 'x-trellis-lane': 'box-x' }, memory).lane, 'box-x');
});

test('a gateway strips a lone lane header (no baggage) and a lone baggage member', () => {
  assert.deepEqual(run(GATEWAY, { 'x-trellis-lane': 'box-x', a: '1' }).headers, { a: '1' });
});

test('laneFilterOf finds the lane filter of a connection manager, or none', () => {
  const hcm = (filters: HttpConnectionManagerConfig['httpFilters']) =>
    ({ httpFilters: filters }) as unknown as HttpConnectionManagerConfig;
  assert.equal(laneFilterOf(undefined), undefined);
  assert.equal(laneFilterOf(hcm([{ kind: 'router', name: 'r' }])), undefined);
  assert.equal(
    laneFilterOf(
      hcm([
        { kind: 'cors', name: 'c' },
        { kind: 'lanes', name: 'l', lanes: INBOUND },
        { kind: 'router', name: 'r' },
      ]),
    ),
    INBOUND,
  );
});
