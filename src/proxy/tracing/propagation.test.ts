import assert from 'node:assert/strict';
import test from 'node:test';
import { extractTraceContext, injectTraceContext, type OutgoingTraceContext } from './propagation.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const P = 'b7ad6b7169203331';

test('extractTraceContext: which header wins and what it says', () => {
  const rows: [string, Record<string, string>, string][] = [
    ['nothing', {}, 'none'],
    ['W3C sampled', { traceparent: `00-${T}-${S}-01` }, `w3c ${T} ${S} true`],
    ['W3C unsampled', { traceparent: `00-${T}-${S}-00` }, `w3c ${T} ${S} false`],
    [
      'W3C wins over B3',
      { traceparent: `00-${T}-${S}-01`, 'x-b3-traceid': '1'.repeat(32), 'x-b3-spanid': P },
      `w3c ${T} ${S} true`,
    ],
    [
      'malformed W3C falls back to B3',
      { traceparent: `00-${T}-xyz-01`, 'x-b3-traceid': T, 'x-b3-spanid': P, 'x-b3-sampled': '1' },
      `b3-multi ${T} ${P} true`,
    ],
    ['all-zero trace id is invalid', { traceparent: `00-${'0'.repeat(32)}-${S}-01` }, 'none'],
    ['version ff is invalid', { traceparent: `ff-${T}-${S}-01` }, 'none'],
    [
      'B3 multi sampled',
      { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' },
      `b3-multi ${T} ${S} true`,
    ],
    [
      'B3 multi unsampled',
      { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' },
      `b3-multi ${T} ${S} false`,
    ],
    ['B3 multi deferred', { 'x-b3-traceid': T, 'x-b3-spanid': S }, `b3-multi ${T} ${S} undefined`],
    [
      'B3 multi debug',
      { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' },
      `b3-multi ${T} ${S} true debug`,
    ],
    [
      'B3 64-bit trace id is padded',
      { 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': S, 'x-b3-sampled': '1' },
      `b3-multi ${'0'.repeat(16)}a3ce929d0e0e4736 ${S} true`,
    ],
    ['B3 multi bad span id', { 'x-b3-traceid': T, 'x-b3-spanid': 'nope', 'x-b3-sampled': '1' }, 'none'],
    ['B3 single sampled', { b3: `${T}-${S}-1-${P}` }, `b3-single ${T} ${S} true`],
    ['B3 single deferred', { b3: `${T}-${S}` }, `b3-single ${T} ${S} undefined`],
    ['B3 single debug', { b3: `${T}-${S}-d` }, `b3-single ${T} ${S} true debug`],
    ['B3 single deny only', { b3: '0' }, 'b3-single - - false'],
    ['B3 multi deny only', { 'x-b3-sampled': '0' }, 'b3-multi - - false'],
    ['B3 single garbage', { b3: 'garbage' }, 'none'],
  ];
  for (const [name, headers, want] of rows) {
    const c = extractTraceContext(headers);
    const got = c
      ? `${c.format} ${c.traceId ?? '-'} ${c.spanId ?? '-'} ${String(c.sampled)}${c.debug ? ' debug' : ''}`
      : 'none';
    assert.equal(got, want, name);
  }
});

test('extractTraceContext keeps tracestate from W3C', () => {
  const c = extractTraceContext({ traceparent: `00-${T}-${S}-01`, tracestate: 'vendor=abc,other=x' });
  assert.equal(c?.traceState?.serialize(), 'vendor=abc,other=x');
});

test('injectTraceContext writes W3C and B3 multi, and rewrites b3 single when present', () => {
  const span: OutgoingTraceContext = {
    traceId: T,
    spanId: S,
    parentSpanId: P,
    sampled: true,
    debug: false,
    traceState: undefined,
  };
  const h: Record<string, string | string[]> = { 'x-b3-flags': '1', tracestate: 'stale=1' };
  injectTraceContext(h, span);
  assert.deepEqual(h, {
    traceparent: `00-${T}-${S}-01`,
    'x-b3-traceid': T,
    'x-b3-spanid': S,
    'x-b3-sampled': '1',
    'x-b3-parentspanid': P,
  });
  const single: Record<string, string | string[]> = { b3: 'old' };
  injectTraceContext(single, { ...span, sampled: false, parentSpanId: undefined });
  assert.equal(single.b3, `${T}-${S}-0`);
  assert.equal(single.traceparent, `00-${T}-${S}-00`);
  assert.equal(single['x-b3-sampled'], '0');
  assert.equal(single['x-b3-parentspanid'], undefined);
  const debug: Record<string, string | string[]> = { b3: 'old' };
  injectTraceContext(debug, { ...span, debug: true });
  assert.equal(debug['x-b3-flags'], '1');
  assert.equal(debug['x-b3-sampled'], undefined);
  assert.equal(debug.b3, `${T}-${S}-d-${P}`);
});

test('a context written out reads back the same (both formats)', () => {
  const state = extractTraceContext({ traceparent: `00-${T}-${P}-01`, tracestate: 'k=v' })?.traceState;
  const span: OutgoingTraceContext = {
    traceId: T,
    spanId: S,
    parentSpanId: P,
    sampled: true,
    debug: false,
    traceState: state,
  };
  const h: Record<string, string | string[]> = {};
  injectTraceContext(h, span);
  assert.equal(h.tracestate, 'k=v');
  const back = extractTraceContext(h);
  assert.equal(`${back?.traceId} ${back?.spanId} ${back?.sampled}`, `${T} ${S} true`);
  delete h.traceparent;
  const viaB3 = extractTraceContext(h);
  assert.equal(
    `${viaB3?.format} ${viaB3?.traceId} ${viaB3?.spanId} ${viaB3?.sampled}`,
    `b3-multi ${T} ${S} true`,
  );
});
