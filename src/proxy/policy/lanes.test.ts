import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baggageLane, carriesLane, laneName, readLane, traceKeys, withoutLaneMember } from './lanes.js';

test('a lane is a branch label value other than master', () => {
  const cases: [string, string | undefined][] = [
    ['box-x', 'box-x'],
    ['Box_1.a', 'Box_1.a'],
    ['a'.repeat(63), 'a'.repeat(63)],
    ['a'.repeat(64), undefined],
    ['master', undefined],
    ['', undefined],
    ['-box', undefined],
    ['box-', undefined],
    ['box x', undefined],
    ['box,box', undefined],
    ['box/x', undefined],
    ['bóx', undefined],
  ];
  for (const [value, want] of cases) assert.equal(laneName(value), want, JSON.stringify(value));
});

test('readLane: the header names one lane, else the baggage member', () => {
  const cases: [Record<string, string | string[]>, ReturnType<typeof readLane>][] = [
    [{}, { invalidHeader: false }],
    [{ 'x-trellis-lane': 'box-x' }, { lane: 'box-x', source: 'header', invalidHeader: false }],
    [{ 'x-trellis-lane': ' box-x ' }, { lane: 'box-x', source: 'header', invalidHeader: false }],
    [{ baggage: 'trellis-lane=box-y' }, { lane: 'box-y', source: 'baggage', invalidHeader: false }],
    // The header wins over baggage.
    [
      { 'x-trellis-lane': 'box-x', baggage: 'trellis-lane=box-y' },
      { lane: 'box-x', source: 'header', invalidHeader: false },
    ],
    // Repeated headers name no lane, even when they repeat the same one (HTTP/1 joins them).
    [{ 'x-trellis-lane': ['box-x', 'box-x'] }, { invalidHeader: true }],
    [{ 'x-trellis-lane': 'box-x, box-x' }, { invalidHeader: true }],
    [{ 'x-trellis-lane': '' }, { invalidHeader: true }],
    // An invalid header falls back to the baggage, as the next hop (without the header) would.
    [
      { 'x-trellis-lane': 'a b', baggage: 'trellis-lane=box-y' },
      { lane: 'box-y', source: 'baggage', invalidHeader: true },
    ],
    [{ 'x-trellis-lane': ' master ' }, { invalidHeader: false, production: true }],
    // master is production: no lane, and the baggage is not asked.
    [
      { 'x-trellis-lane': 'master', baggage: 'trellis-lane=box-y' },
      { invalidHeader: false, production: true },
    ],
  ];
  for (const [headers, want] of cases) assert.deepEqual(readLane(headers), want, JSON.stringify(headers));
});

test('baggageLane follows W3C baggage: members, properties, percent-encoding, limits', () => {
  const cases: [string | string[] | undefined, string | undefined][] = [
    [undefined, undefined],
    ['trellis-lane=box-x', 'box-x'],
    ['userId=alice, trellis-lane = box-x ;ttl=1, other=2', 'box-x'],
    [['userId=alice', 'trellis-lane=box-x'], 'box-x'],
    ['trellis-lane=box%2Dx', 'box-x'],
    ['trellis-lane=box-x,trellis-lane=box-x', 'box-x'],
    // Ambiguous, malformed or not a lane: no lane at all.
    ['trellis-lane=box-x,trellis-lane=box-y', undefined],
    ['trellis-lane=box%ZZ', undefined],
    ['trellis-lane=box%20x', undefined],
    ['trellis-lane=master', undefined],
    ['trellis-lane=', undefined],
    ['Trellis-Lane=box-x', undefined],
    ['trellis-lane', undefined],
    ['=box-x', undefined],
    ['bad key=1,trellis-lane=box-x', undefined],
    ['a="quoted",trellis-lane=box-x', undefined],
    ['a=1,,trellis-lane=box-x', 'box-x'],
    [';p=1,trellis-lane=box-x', undefined],
    ['a=1, ,trellis-lane=box-x', 'box-x'],
    // A member that names no lane spoils the others: which one was meant is unknown.
    ['trellis-lane=master,trellis-lane=box-x', undefined],
    [`pad=${'x'.repeat(8192 - 'pad=,trellis-lane=box-x'.length)},trellis-lane=box-x`, 'box-x'],
    [`pad=${'x'.repeat(8193 - 'pad=,trellis-lane=box-x'.length)},trellis-lane=box-x`, undefined],
    // Over W3C's limits: ignored whole.
    [`${'k=v,'.repeat(64)}trellis-lane=box-x`, undefined],
    [`pad=${'x'.repeat(8192)},trellis-lane=box-x`, undefined],
    [`${'k=v,'.repeat(63)}trellis-lane=box-x`, 'box-x'],
  ];
  for (const [value, want] of cases)
    assert.equal(baggageLane(value), want, JSON.stringify(value)?.slice(0, 80));
});

test('a gateway strips every member that could be read as the lane, and keeps the rest', () => {
  const cases: [string | string[], string | undefined][] = [
    ['trellis-lane=box-x', undefined],
    ['userId=alice,trellis-lane=box-x;p=1, other=2', 'userId=alice,other=2'],
    [' Trellis-Lane =box-x,a=1', 'a=1'],
    ['trellis-lane;p=1,a=1', 'a=1'],
    [['a=1', 'trellis-lane=box-x'], 'a=1'],
    ['a=1', 'a=1'],
    ['a=1,, b=2,', 'a=1,b=2'],
    ['a=1, ,b=2', 'a=1,b=2'],
    [`pad=${'x'.repeat(9000)},trellis-lane=box-x`, `pad=${'x'.repeat(9000)}`],
  ];
  for (const [value, want] of cases)
    assert.equal(withoutLaneMember(value), want, JSON.stringify(value).slice(0, 80));
  assert.equal(carriesLane({ baggage: 'a=1, TRELLIS-LANE=x' }), true);
  assert.equal(carriesLane({ baggage: 'a=1' }), false);
  assert.equal(carriesLane({ baggage: ['a=1', 'trellis-lane=x'] }), true);
  assert.equal(carriesLane({ baggage: ['a=1', 'b=2'] }), false);
  assert.equal(carriesLane({ 'x-trellis-lane': '' }), true);
  assert.equal(carriesLane({}), false);
});

test('traceKeys: W3C trace id, B3 trace id, request id; malformed ones give no key', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736';
  const cases: [Record<string, string | string[]>, string[]][] = [
    [{}, []],
    [{ traceparent: `00-${id}-00f067aa0ba902b7-01` }, [`w3c:${id}`]],
    [{ traceparent: `00-${id.toUpperCase()}-00f067aa0ba902b7-01` }, [`w3c:${id}`]],
    [{ traceparent: `ff-${id}-00f067aa0ba902b7-01` }, []],
    [{ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }, []],
    [{ traceparent: `00-${id.slice(1)}-00f067aa0ba902b7-01` }, []],
    [{ traceparent: [`00-${id}-00f067aa0ba902b7-01`, `00-${id}-00f067aa0ba902b7-01`] }, []],
    [{ 'x-b3-traceid': 'a3ce929d0e0e4736' }, [`b3:${'0'.repeat(16)}a3ce929d0e0e4736`]],
    [{ 'x-b3-traceid': id }, [`b3:${id}`]],
    [{ 'x-b3-traceid': 'xyz' }, []],
    [{ traceparent: `x00-${id}-00f067aa0ba902b7-01` }, []],
    [{ traceparent: `00-${id}-00f067aa0ba902b7-0` }, []],
    [{ traceparent: `00-${'0'.repeat(31)}1-00f067aa0ba902b7-01` }, [`w3c:${'0'.repeat(31)}1`]],
    [{ traceparent: `00-1${'0'.repeat(31)}-00f067aa0ba902b7-01` }, [`w3c:1${'0'.repeat(31)}`]],
    [{ 'x-b3-traceid': `${id.slice(0, 16)}zz` }, []],
    [{ 'x-b3-traceid': `zz${id.slice(0, 16)}` }, []],
    [{ 'x-b3-traceid': '0'.repeat(16) }, []],
    [{ 'x-b3-traceid': `${'0'.repeat(15)}1` }, [`b3:${'0'.repeat(31)}1`]],
    [{ 'x-b3-traceid': `1${'0'.repeat(15)}` }, [`b3:${'0'.repeat(16)}1${'0'.repeat(15)}`]],
    [{ 'x-b3-traceid': `${'0'.repeat(14)}10` }, [`b3:${'0'.repeat(30)}10`]],
    [{ b3: `x${id}-00f067aa0ba902b7-1` }, []],
    [{ b3: `a${id.slice(0, 15)}-00f067aa0ba902b7-1` }, [`b3:${'0'.repeat(16)}a${id.slice(0, 15)}`]],
    [{ b3: `${id.slice(0, 8)}-00f067aa0ba902b7-1` }, []],
    [{ b3: `${id}-00f067aa0ba9-1` }, []],
    [{ 'x-request-id': ' req-1 ' }, ['rid:req-1']],
    [{ 'x-request-id': 'r'.repeat(128) }, [`rid:${'r'.repeat(128)}`]],
    [{ b3: `${id}-00f067aa0ba902b7-1` }, [`b3:${id}`]],
    [{ 'x-request-id': 'req-1' }, ['rid:req-1']],
    [{ 'x-request-id': 'a b' }, []],
    [{ 'x-request-id': 'r'.repeat(129) }, []],
    [
      { traceparent: `00-${id}-00f067aa0ba902b7-01`, 'x-b3-traceid': id, 'x-request-id': 'r1' },
      [`w3c:${id}`, `b3:${id}`, 'rid:r1'],
    ],
  ];
  for (const [headers, want] of cases) assert.deepEqual(traceKeys(headers), want, JSON.stringify(headers));
});
