import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PushQueue } from './push-queue.js';

test('one merged pending push per proxy, in arrival order', () => {
  const q = new PushQueue();
  q.enqueue('a', ['CDS'], 10);
  q.enqueue('b', ['EDS'], 11);
  q.enqueue('a', ['EDS', 'LDS'], 12);
  assert.equal(q.size, 2);
  const first = q.take()!;
  assert.equal(first.proxyId, 'a');
  assert.deepEqual([...first.types].sort(), ['CDS', 'EDS', 'LDS']);
  assert.equal(first.since, 10);
  assert.equal(q.take()?.proxyId, 'b');
  assert.equal(q.take(), undefined);
});

test('a change for a proxy being pushed waits until that push is done', () => {
  const q = new PushQueue();
  q.enqueue('a', ['CDS'], 0);
  const p = q.take()!;
  q.enqueue('a', ['EDS'], 5);
  q.enqueue('a', ['RDS'], 6, true);
  assert.equal(q.take(), undefined, 'never two pushes to one proxy at once');
  q.done(p.proxyId);
  const again = q.take()!;
  assert.deepEqual([...again.types].sort(), ['EDS', 'RDS']);
  assert.equal(again.force, true);
});

test('removed proxies are dropped; wait resolves on enqueue', async () => {
  const q = new PushQueue();
  const waiting = q.wait();
  q.enqueue('a', ['CDS'], 0);
  await waiting;
  q.remove('a');
  assert.equal(q.take(), undefined);
});
