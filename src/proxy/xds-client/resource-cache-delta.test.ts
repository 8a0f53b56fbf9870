/**
 * The cache's delta (incremental xDS) entry point: resources arrive as changes with their own
 * versions, wildcard types are not replaced whole, removals are explicit, and a response with
 * any bad resource changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { edsCluster, endpoints, httpListener } from '../testing/resources.js';
import { XdsResourceCache, type DeltaDiscoveryResponseMsg } from './resource-cache.js';

/** `resources`: [name, version, message] (message undefined: a body-less heartbeat). */
function delta(
  type: string,
  systemVersion: string,
  resources: [string, string, object | undefined][],
  removed: string[] = [],
  nonce = `n-${systemVersion}`,
): DeltaDiscoveryResponseMsg {
  return {
    type_url: type,
    system_version_info: systemVersion,
    nonce,
    resources: resources.map(([name, version, r]) => ({
      name,
      version,
      ...(r ? { resource: packAny(type, r) } : {}),
    })),
    removed_resources: removed,
  };
}

test('delta: add, update and remove; resources not mentioned stay, with their versions and times', () => {
  let now = 100;
  const cache = new XdsResourceCache(() => now);
  const first = cache.handleDeltaResponse(
    delta(TYPE.cluster, 'p1', [
      ['a', 'va1', edsCluster('a')],
      ['b', 'vb1', edsCluster('b')],
    ]),
  );
  assert.equal(first.kind, 'ack');
  if (first.kind !== 'ack') return;
  assert.deepEqual(first.updated, ['a', 'b']);
  assert.equal(first.nonce, 'n-p1');
  assert.deepEqual(cache.heldVersions('CDS'), { a: 'va1', b: 'vb1' });
  assert.ok(cache.snapshot().received.has('CDS'));

  // Only b changes: a is not in the response and must not be dropped (this is not SotW).
  now = 200;
  const second = cache.handleDeltaResponse(
    delta(TYPE.cluster, 'p2', [
      ['b', 'vb2', edsCluster('b', { eds_cluster_config: { service_name: 'b2' } })],
    ]),
  );
  assert.equal(second.kind, 'ack');
  assert.deepEqual([...cache.snapshot().clusters.keys()].sort(), ['a', 'b']);
  assert.equal(cache.snapshot().clusters.get('b')?.edsServiceName, 'b2');
  assert.deepEqual(cache.heldVersions('CDS'), { a: 'va1', b: 'vb2' });
  const raw = cache.snapshot().raw.CDS;
  assert.equal(raw.get('a')?.lastUpdatedMs, 100);
  assert.equal(raw.get('a')?.version, 'va1', 'config_dump shows each resource its own version');
  assert.equal(raw.get('b')?.lastUpdatedMs, 200);
  assert.equal(cache.snapshot().versions.CDS, 'p2', 'the type version is the system_version_info');
  assert.deepEqual(cache.wantedEndpointNames(), ['a', 'b2']);

  // Removal; a name not held is ignored.
  const third = cache.handleDeltaResponse(delta(TYPE.cluster, 'p3', [], ['a', 'never-held']));
  assert.equal(third.kind, 'ack');
  if (third.kind !== 'ack') return;
  assert.deepEqual(third.removed, ['a']);
  assert.deepEqual([...cache.snapshot().clusters.keys()], ['b']);
  assert.deepEqual(cache.heldVersions('CDS'), { b: 'vb2' });
});

test('delta: a response with any bad resource is NACKed whole and the last good state stays', () => {
  const cache = new XdsResourceCache(() => 0);
  cache.handleDeltaResponse(delta(TYPE.cluster, 'p1', [['good', 'v1', edsCluster('good')]]));
  const before = cache.snapshot();

  const bad = cache.handleDeltaResponse(
    delta(
      TYPE.cluster,
      'p2',
      [
        ['new', 'v1', edsCluster('new')],
        ['dns', 'v1', { name: 'dns', type: 'STRICT_DNS' }],
        ['new', 'v2', edsCluster('new')],
        ['wrong', 'v1', edsCluster('other')],
      ],
      ['good'],
    ),
  );
  assert.equal(bad.kind, 'nack');
  if (bad.kind !== 'nack') return;
  assert.equal(bad.nonce, 'n-p2', 'a NACK names the response it rejects');
  assert.deepEqual(bad.problems, [
    'Cluster "dns".load_assignment: a STRICT_DNS cluster needs load_assignment',
    'Cluster "new": duplicate resource name',
    'Cluster "wrong": the resource inside is named "other"',
  ]);
  assert.match(bad.message, /^CDS delta update "p2" rejected: /);
  assert.equal(cache.snapshot(), before, 'nothing changed: not even the removal in the same response');
  assert.deepEqual(cache.heldVersions('CDS'), { good: 'v1' });
  assert.equal(cache.snapshot().versions.CDS, 'p1');

  const both = cache.handleDeltaResponse(
    delta(TYPE.cluster, 'p3', [['good', 'v2', edsCluster('good')]], ['good']),
  );
  assert.equal(both.kind, 'nack');
  if (both.kind === 'nack')
    assert.deepEqual(both.problems, ['removed_resources[0]: "good" is also in resources']);

  const wrongType = cache.handleDeltaResponse({
    type_url: TYPE.cluster,
    nonce: 'x',
    resources: [{ name: 'l', version: '1', resource: packAny(TYPE.listener, httpListener(9080)) }],
  });
  assert.equal(wrongType.kind, 'nack');

  assert.equal(
    cache.handleDeltaResponse({ type_url: 'type.googleapis.com/made.Up', nonce: 'y' }).kind,
    'ignored',
  );
  assert.deepEqual([...cache.snapshot().clusters.keys()], ['good']);
});

test('delta: explicit types keep only subscribed names; a body-less resource is a heartbeat', () => {
  const cache = new XdsResourceCache(() => 0);
  cache.setSubscription('EDS', ['a', 'b']);
  const res = cache.handleDeltaResponse(
    delta(TYPE.endpoint, 'p1', [
      ['a', 'ea1', endpoints('a', [{ port: 1 }])],
      ['zzz', 'ez1', endpoints('zzz', [{ port: 2 }])],
    ]),
  );
  assert.equal(res.kind, 'ack');
  if (res.kind === 'ack') assert.deepEqual(res.updated, ['a'], 'an unsubscribed name is not kept');
  assert.deepEqual([...cache.snapshot().endpoints.keys()], ['a']);

  const heartbeat = cache.handleDeltaResponse(delta(TYPE.endpoint, 'p2', [['a', 'ea1', undefined]]));
  assert.equal(heartbeat.kind, 'ack');
  assert.deepEqual(cache.heldVersions('EDS'), { a: 'ea1' });
  assert.equal(cache.snapshot().endpoints.get('a')?.localities[0]?.endpoints[0]?.port, 1);

  // The server says b does not exist: nothing held, subscription unchanged.
  cache.handleDeltaResponse(delta(TYPE.endpoint, 'p3', [], ['b']));
  assert.deepEqual(cache.resourceNames('EDS'), ['a', 'b']);

  // Losing interest drops the resource and its version (nothing to report on reconnect).
  cache.setSubscription('EDS', ['b']);
  assert.deepEqual(cache.heldVersions('EDS'), {});
  assert.equal(cache.snapshot().endpoints.size, 0);
});

test('delta versions are only what delta responses gave: state-of-the-world entries report none', () => {
  const cache = new XdsResourceCache(() => 0);
  cache.handleResponse({
    type_url: TYPE.cluster,
    version_info: '1',
    nonce: '1',
    resources: [packAny(TYPE.cluster, edsCluster('a'))],
  });
  assert.deepEqual(cache.heldVersions('CDS'), {});
  cache.handleDeltaResponse(delta(TYPE.cluster, 'p1', [['b', 'vb', edsCluster('b')]]));
  assert.deepEqual(cache.heldVersions('CDS'), { b: 'vb' });
  assert.deepEqual([...cache.snapshot().clusters.keys()].sort(), ['a', 'b']);
});
