import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import {
  compileStickyCanary,
  pickTarget,
  STICKY_CANARY_METADATA,
  stickyId,
  stickyKey,
} from './sticky-canary.js';

test('the route metadata key is the one translation writes (xds/translate/sticky-canary.ts)', () => {
  assert.equal(STICKY_CANARY_METADATA, 'trellis.sticky_canary');
});

test('compileStickyCanary: one of header or cookie, a token name', () => {
  assert.deepEqual(compileStickyCanary({ header: 'X-User' }, 'p'), { header: 'x-user' });
  assert.deepEqual(compileStickyCanary({ cookie: 'User' }, 'p'), { cookie: 'User' });
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{}, 'p', /exactly one of "header" or "cookie"/],
    [{ header: 'a', cookie: 'b' }, 'p', /exactly one/],
    [{ query: 'u' }, 'p', /exactly one/],
    [{ header: '' }, 'p.header', /expected a header name/],
    [{ header: ':authority' }, 'p.header', /expected a header name/],
    [{ cookie: 3 }, 'p.cookie', /expected a cookie name/],
    [{ cookie: 'user;x' }, 'p.cookie', /expected a cookie name/],
    [{ header: 'x-user:' }, 'p.header', /expected a header name/],
  ];
  for (const [json, path, message] of bad) {
    assert.throws(
      () => compileStickyCanary(json, 'p'),
      (err: Error & { path?: string }) => err.path === path && message.test(err.message),
      JSON.stringify(json),
    );
  }
});

test('stickyKey: the header (first value) or the cookie; absent or empty is no key', () => {
  const h = { header: 'x-user' } as const;
  const c = { cookie: 'user' } as const;
  const rows: [typeof h | typeof c, Record<string, string | string[]>, string | undefined][] = [
    [h, { 'x-user': 'alice' }, 'alice'],
    [h, { 'x-user': ['alice', 'bob'] }, 'alice'],
    [h, { 'x-user': '' }, undefined],
    [h, {}, undefined],
    [h, { cookie: 'x-user=alice' }, undefined],
    [c, { cookie: 'a=1; user=bob; b=2' }, 'bob'],
    [c, { cookie: 'user="quoted"' }, 'quoted'],
    [c, { cookie: ['a=1', 'user=carol'] }, 'carol'],
    [c, { cookie: 'user=' }, undefined],
    [c, { cookie: 'username=dave' }, undefined],
    [c, { 'x-user': 'alice' }, undefined],
  ];
  for (const [sticky, headers, want] of rows)
    assert.equal(stickyKey(sticky, headers), want, JSON.stringify([sticky, headers]));
});

test('pickTarget: sticky by key, ordinary weighted picks without one or without the setting', () => {
  const targets = [
    { cluster: 'stable', weight: 50 },
    { cluster: 'canary', weight: 50 },
  ];
  const sticky = { header: 'x-user' } as const;
  const rnd = seededRandom(3);
  for (let u = 0; u < 50; u++) {
    const headers = { 'x-user': `u${u}` };
    const first = pickTarget(targets, 100, sticky, headers, rnd)!.cluster;
    for (let i = 0; i < 5; i++) assert.equal(pickTarget(targets, 100, sticky, headers, rnd)!.cluster, first);
  }
  // The same user, without the setting or without the key: both destinations come up.
  for (const [setting, headers] of [
    [undefined, { 'x-user': 'u1' }],
    [sticky, {}],
  ] as const) {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(pickTarget(targets, 100, setting, headers, rnd)!.cluster);
    assert.deepEqual([...seen].sort(), ['canary', 'stable']);
  }
  // One target: that one, key or not.
  assert.equal(pickTarget([targets[0]!], 50, sticky, { 'x-user': 'u' }, rnd)!.cluster, 'stable');
});

test('a Router moving its stable version renames the fallback aggregates; no user moves back', () => {
  // Router defaults: the heaviest production version is the fallback. At 60/40 the canary (v2)
  // falls back to v1; at 40/60 v1 falls back to v2: every weighted cluster is renamed.
  const at = (v1: number, v2: number) =>
    v1 >= v2
      ? [
          { cluster: 'outbound|80|master-v1|web', weight: v1 },
          { cluster: 'outbound|80|master-v2~fallback~master-v1|web', weight: v2 },
        ]
      : [
          { cluster: 'outbound|80|master-v1~fallback~master-v2|web', weight: v1 },
          { cluster: 'outbound|80|master-v2|web', weight: v2 },
        ];
  const version = (cluster: string) =>
    cluster.includes('master-v2~') || cluster.endsWith('master-v2|web') ? 'v2' : 'v1';
  const sticky = { header: 'x-user' } as const;
  const rnd = seededRandom(9);
  let movedBack = 0;
  let onV2 = 0;
  for (let u = 0; u < 4000; u++) {
    const headers = { 'x-user': `user-${u}` };
    const before = version(pickTarget(at(60, 40), 100, sticky, headers, rnd)!.cluster);
    const after = version(pickTarget(at(40, 60), 100, sticky, headers, rnd)!.cluster);
    if (before === 'v2') onV2++;
    if (before === 'v2' && after === 'v1') movedBack++;
  }
  assert.ok(onV2 > 1000, `about 40% start on v2 (${onV2})`);
  assert.equal(movedBack, 0, 'users on the canary stay on it while its weight grows');
});

test('stickyId: the aggregate slot is read as the subset itself', () => {
  assert.equal(stickyId('outbound|80|v2~fallback~v1|web.shop'), 'outbound|80|v2|web.shop');
  assert.equal(stickyId('outbound|80|v2|web.shop'), 'outbound|80|v2|web.shop');
  assert.equal(stickyId('plain'), 'plain');
});
