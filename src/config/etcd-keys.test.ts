import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../core/errors.js';
import {
  CONFIG_PREFIX,
  DEREGISTERED_PREFIX,
  ELECTION_NAME,
  EXPIRED_PREFIX,
  REGISTRATION_PREFIX,
  REGISTRATION_WATCH_PREFIX,
  ROUTER_PREFIX,
  parseEtcdUrl,
  parseResourceEtcdKey,
  resourceEtcdKey,
} from './etcd-keys.js';

test('resource keys round-trip and refuse other shapes', () => {
  const key = resourceEtcdKey(CONFIG_PREFIX, 'VirtualService', 'prod', 'reviews');
  assert.equal(key, '/trellis/config/VirtualService/prod/reviews');
  assert.deepEqual(parseResourceEtcdKey(CONFIG_PREFIX, key), {
    kind: 'VirtualService',
    namespace: 'prod',
    name: 'reviews',
  });
  for (const bad of [
    '/trellis/config/VirtualService/prod',
    '/trellis/config/VirtualService/prod/reviews/extra',
    '/trellis/config/VirtualService//reviews',
    '/trellis/derived/router/VirtualService/prod/reviews',
    'trellis/config/VirtualService/prod/reviews',
  ])
    assert.equal(parseResourceEtcdKey(CONFIG_PREFIX, bad), undefined, bad);
});

test('etcd:// URLs: one or several endpoints, refused with what is expected', () => {
  assert.deepEqual(parseEtcdUrl('etcd://127.0.0.1:2379'), ['http://127.0.0.1:2379']);
  assert.deepEqual(parseEtcdUrl('etcd://a.example:2379, b.example:22379'), [
    'http://a.example:2379',
    'http://b.example:22379',
  ]);
  assert.deepEqual(parseEtcdUrl('etcd://[::1]:2379'), ['http://[::1]:2379']);
  assert.deepEqual(parseEtcdUrl(' etcd://h:65535 '), ['http://h:65535']);
  for (const [bad, why] of [
    ['127.0.0.1:2379', /expected etcd:\/\/HOST:PORT/],
    ['etcd://', /expected etcd:\/\/HOST:PORT/],
    ['etcd://host', /endpoint "host" is not HOST:PORT/],
    ['etcd://host:0', /endpoint "host:0"/],
    ['etcd://host:65536', /endpoint "host:65536"/],
    ['etcd://h:1,,h:2', /endpoint ""/],
    ['etcd://h:1/path', /endpoint "h:1\/path"/],
    ['etcd://a/b:1', /endpoint "a\/b:1"/],
    ['xetcd://h:1', /expected etcd:\/\/HOST:PORT/],
    ['etcd://h:1 etcd://h:2', /endpoint "h:1 etcd:\/\/h:2"/],
  ] as const)
    assert.throws(
      () => parseEtcdUrl(bad),
      (err) => isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') && why.test(err.message),
      bad,
    );
});

test('the documented layout (replicas of different versions must agree on it)', () => {
  assert.deepEqual(
    [CONFIG_PREFIX, ROUTER_PREFIX, REGISTRATION_PREFIX, DEREGISTERED_PREFIX, EXPIRED_PREFIX, ELECTION_NAME],
    [
      '/trellis/config/',
      '/trellis/derived/router/',
      '/trellis/registrations/',
      '/trellis/registrations-deregistered/',
      '/trellis/registrations-expired/',
      '/trellis/election/leader',
    ],
  );
  for (const p of [REGISTRATION_PREFIX, DEREGISTERED_PREFIX, EXPIRED_PREFIX])
    assert.ok(p.startsWith(REGISTRATION_WATCH_PREFIX), `${p} is seen by the one registrations watch`);
  assert.ok(!CONFIG_PREFIX.startsWith(REGISTRATION_WATCH_PREFIX));
});
