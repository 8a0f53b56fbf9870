import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import { TapHub, parseTapQuery, tapMatches, type StreamObserverSlot } from './tap.js';

class FakeSink extends EventEmitter {
  lines: string[] = [];
  accepting = true;
  ended = false;
  write(chunk: string): boolean {
    this.lines.push(chunk);
    return this.accepting;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
}

const info = (path: string, over: Partial<StreamInfo> = {}): StreamInfo =>
  ({
    startWallMs: 0,
    startMs: 0,
    reporter: 'source',
    method: 'GET',
    path,
    authority: 'reviews:9080',
    protocol: 'HTTP/1.1',
    status: 200,
    flags: new Set(),
    durationMs: 1.25,
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    upstreamHost: '127.0.0.1:9080',
    requestId: 'req-1',
    ...over,
  }) as unknown as StreamInfo;

test('tapMatches: path prefix, method and authority (case-insensitive), all of them', () => {
  const i = info('/api/v1', { method: 'POST', authority: 'Reviews:9080' });
  assert.ok(tapMatches({}, i));
  assert.ok(tapMatches({ pathPrefix: '/api', method: 'post', authority: 'reviews:9080' }, i));
  assert.ok(!tapMatches({ pathPrefix: '/apx' }, i));
  assert.ok(!tapMatches({ method: 'GET' }, i));
  assert.ok(!tapMatches({ authority: 'reviews' }, i));
});

test('parseTapQuery: filters and max; unknown parameters and bad max are messages', () => {
  assert.deepEqual(parseTapQuery(new URLSearchParams('path=/a&method=GET&authority=x&max=3')), {
    pathPrefix: '/a',
    method: 'GET',
    authority: 'x',
    max: 3,
  });
  assert.match(parseTapQuery(new URLSearchParams('max=0')) as string, /max="0": expected a whole number/);
  assert.match(parseTapQuery(new URLSearchParams('max=two')) as string, /expected a whole number/);
  assert.match(parseTapQuery(new URLSearchParams('status=500')) as string, /unknown parameter "status"/);
});

test('TapHub: observes only while a client is connected; max ends the stream; TCP streams skipped', () => {
  const slot: StreamObserverSlot = { observer: undefined };
  const hub = new TapHub(slot);
  const sink = new FakeSink();
  hub.add({ pathPrefix: '/tap', max: 2 }, sink);
  assert.ok(slot.observer);
  slot.observer?.(info('/other'));
  slot.observer?.(info('/tap/1'));
  slot.observer?.(info('', { method: '' }));
  slot.observer?.(info('/tap/2'));
  slot.observer?.(info('/tap/3'));
  assert.deepEqual(
    sink.lines.map((l) => (JSON.parse(l) as { path: string }).path),
    ['/tap/1', '/tap/2'],
  );
  assert.equal(sink.ended, true);
  assert.equal(slot.observer, undefined, 'no observer once the last client is gone');
  const first = JSON.parse(sink.lines[0] ?? '{}') as Record<string, unknown>;
  assert.deepEqual(first, {
    time: '1970-01-01T00:00:00.000Z',
    method: 'GET',
    authority: 'reviews:9080',
    path: '/tap/1',
    status: 200,
    flags: '-',
    durationMs: 1.3,
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    upstreamHost: '127.0.0.1:9080',
    reporter: 'source',
    requestId: 'req-1',
  });
});

test('TapHub: a slow reader drops and counts, then hears how many; other clients are not affected', () => {
  const slot: StreamObserverSlot = { observer: undefined };
  const hub = new TapHub(slot);
  const slow = new FakeSink();
  const fast = new FakeSink();
  hub.add({}, slow);
  hub.add({}, fast);
  slow.accepting = false;
  for (let i = 0; i < 5; i++) slot.observer?.(info(`/r${i}`));
  // The first write was taken (and reported backpressure); the next four were dropped.
  assert.equal(slow.lines.length, 1);
  assert.equal(fast.lines.length, 5);
  slow.accepting = true;
  slow.emit('drain');
  assert.deepEqual(JSON.parse(slow.lines[1] ?? '{}'), { dropped: 4 });
  slot.observer?.(info('/after'));
  assert.equal((JSON.parse(slow.lines[2] ?? '{}') as { path: string }).path, '/after');
  // A client that goes away is forgotten; the other keeps the observer installed.
  slow.emit('close');
  assert.equal(hub.size, 1);
  assert.ok(slot.observer);
  hub.close();
  assert.equal(fast.ended, true);
  assert.equal(slot.observer, undefined);
});
