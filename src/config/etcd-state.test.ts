import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAndValidate } from '../api/parse.js';
import { CONFIG_PREFIX } from './etcd-keys.js';
import { EtcdConfigState, decodeKv, type EtcdKv } from './etcd-state.js';

const key = (name: string) => `${CONFIG_PREFIX}VirtualService/default/${name}`;

function kv(name: string, weight: number, modRevision: number, extra: Record<string, unknown> = {}): EtcdKv {
  return {
    key: key(name),
    modRevision,
    value: JSON.stringify({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00.000Z' },
      spec: { hosts: [name], http: [{ route: [{ destination: { host: name }, weight }] }] },
      ...extra,
    }),
  };
}

const state = () => new EtcdConfigState(CONFIG_PREFIX, parseAndValidate, () => 42);
const summary = (e: { revision: number; changes: readonly { type: string; name: string }[] } | undefined) =>
  e && `${e.revision}:${e.changes.map((c) => `${c.type} ${c.name}`).join(',')}`;

test('decode: resourceVersion is the mod revision, creation time kept, key must match', () => {
  const d = decodeKv(CONFIG_PREFIX, kv('reviews', 100, 7), parseAndValidate);
  assert.ok(d.ok);
  assert.equal(d.resource.metadata.resourceVersion, '7');
  assert.equal(d.resource.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
  const moved = decodeKv(CONFIG_PREFIX, { ...kv('reviews', 100, 7), key: key('ratings') }, parseAndValidate);
  assert.ok(!moved.ok);
  assert.match(
    moved.problems[0]!.message,
    /describes VirtualService default\/reviews but is stored under VirtualService default\/ratings/,
  );
  const two = decodeKv(
    CONFIG_PREFIX,
    { key: key('x'), value: 'a: 1\n---\nb: 2\n', modRevision: 1 },
    parseAndValidate,
  );
  assert.ok(!two.ok);
  const badKey = decodeKv(CONFIG_PREFIX, { ...kv('x', 1, 1), key: '/trellis/config/x' }, parseAndValidate);
  assert.ok(!badKey.ok);
  assert.match(badKey.problems[0]!.message, /not a resource key/);
});

test('events: one per revision that changes what is served, in order; repeats ignored', () => {
  const s = state();
  assert.equal(summary(s.replaceAll(5, [kv('a', 100, 3), kv('b', 100, 5)])), '5:added a,added b');
  assert.equal(s.revision, 5);
  assert.equal(summary(s.applyRevision(6, [{ type: 'put', kv: kv('a', 50, 6) }])), '6:updated a');
  assert.equal(s.applyRevision(6, [{ type: 'put', kv: kv('a', 1, 6) }]), undefined, 'a repeated revision');
  assert.equal(s.snapshot().get('VirtualService', 'default', 'a')?.metadata.resourceVersion, '6');
  assert.equal(
    summary(
      s.applyRevision(7, [
        { type: 'delete', key: key('b'), revision: 7 },
        { type: 'put', kv: kv('c', 1, 7) },
      ]),
    ),
    '7:deleted b,added c',
  );
  assert.equal(s.snapshot().revision, 7);
  assert.equal(Object.isFrozen(s.snapshot().get('VirtualService', 'default', 'a')), true);
});

test('an invalid value keeps the last good version serving, with an error naming its key', () => {
  const s = state();
  s.replaceAll(3, [kv('a', 100, 3)]);
  const bad = { key: key('a'), value: '{"kind": "VirtualService"', modRevision: 4 };
  assert.equal(s.applyRevision(4, [{ type: 'put', kv: bad }]), undefined, 'nothing served changed');
  assert.equal(s.revision, 4);
  assert.equal(s.snapshot().get('VirtualService', 'default', 'a')?.metadata.resourceVersion, '3');
  assert.equal(s.snapshot().revision, 4, 'the snapshot carries the revision even without changes');
  assert.deepEqual(
    s.rawValues().map((v) => v.modRevision),
    [4],
    'the cache keeps what etcd holds',
  );
  const [err] = s.errors();
  assert.deepEqual(err?.source, { file: key('a'), doc: 1 });
  assert.equal(err?.servingLastGood, true);
  assert.equal(err?.at, 42);
  // A new key that is invalid serves nothing.
  s.applyRevision(5, [{ type: 'put', kv: { key: key('n'), value: '[]', modRevision: 5 } }]);
  assert.equal(
    s.errors().find((e) => 'file' in e.source && e.source.file === key('n'))?.servingLastGood,
    false,
  );
  // Fixing it clears the error; deleting a rejected key clears its error too.
  assert.equal(summary(s.applyRevision(6, [{ type: 'put', kv: kv('a', 10, 6) }])), '6:updated a');
  s.applyRevision(7, [{ type: 'delete', key: key('n'), revision: 7 }]);
  assert.deepEqual(s.errors(), []);
});

test('re-list: the difference from what was served, older listings ignored unless forced', () => {
  const s = state();
  s.replaceAll(10, [kv('a', 100, 3), kv('b', 100, 9), kv('c', 1, 10)]);
  assert.equal(
    summary(s.replaceAll(20, [kv('a', 100, 3), kv('b', 70, 15), kv('d', 1, 20)])),
    '20:deleted c,updated b,added d',
  );
  assert.equal(s.replaceAll(15, []), undefined, 'an older listing');
  assert.equal(
    s.replaceAll(20, [kv('a', 100, 3), kv('b', 70, 15), kv('d', 1, 20)]),
    undefined,
    'the same listing',
  );
  assert.equal(
    summary(s.replaceAll(21, [kv('a', 5, 3), kv('b', 70, 15), kv('d', 1, 20)])),
    '21:updated a',
    'same mod revision, other value (a cache from another etcd): taken',
  );
  assert.equal(s.revision, 21);
  assert.equal(summary(s.replaceAll(2, [], true)), '2:deleted a,deleted b,deleted d');
  assert.equal(s.revision, 2);
  assert.equal(s.modRevisionOf(key('a')), 0);
});
