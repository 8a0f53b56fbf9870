import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHORT_TYPE, TYPE } from '../../protocol/protos.js';
import { PushQueue, pushSteps } from './push-queue.js';

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

test('push steps: clusters and endpoints first; removals of both wait for listeners and routes', () => {
  const C = TYPE.cluster;
  const E = TYPE.endpoint;
  const L = TYPE.listener;
  const R = TYPE.route;
  const S = TYPE.secret;
  const shown = (types: string[], force = false) =>
    pushSteps(new Set(types), force).map(
      (s) => `${SHORT_TYPE[s.typeUrl]}${s.holdRemovals ? '+held' : ''}${s.force ? '!' : ''}`,
    );
  const table: [string[], boolean, string[]][] = [
    [[R, L, E, C, S], false, ['CDS+held', 'EDS+held', 'LDS', 'RDS', 'SDS', 'CDS', 'EDS']],
    [[C, E], false, ['CDS', 'EDS']],
    [[E], true, ['EDS!']],
    [[L, C], true, ['CDS+held!', 'LDS!', 'CDS']],
    [[R, E], false, ['EDS', 'RDS']],
  ];
  for (const [types, force, want] of table) assert.deepEqual(shown(types, force), want, want.join(' '));
});
