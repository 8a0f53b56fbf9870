import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { edsCluster, endpoints, httpListener, routeConfig } from '../testing/resources.js';
import { XdsResourceCache } from './resource-cache.js';

function response(type: string, version: string, resources: object[], nonce = version) {
  return { type_url: type, version_info: version, nonce, resources: resources.map((r) => packAny(type, r)) };
}

test('accepted clusters and listeners drive the EDS and RDS subscriptions', () => {
  const cache = new XdsResourceCache(() => 1000);
  assert.equal(
    cache.handleResponse(
      response(TYPE.cluster, '1', [
        edsCluster('a'),
        edsCluster('b', { eds_cluster_config: { service_name: 'b-eds' } }),
      ]),
    ).kind,
    'ack',
  );
  assert.deepEqual(cache.wantedEndpointNames(), ['a', 'b-eds']);
  assert.equal(cache.setSubscription('EDS', cache.wantedEndpointNames()), true);
  assert.equal(cache.setSubscription('EDS', ['b-eds', 'a']), false, 'same set: no new request');

  // EDS responses may carry unsubscribed names; those are not kept.
  cache.handleResponse(
    response(TYPE.endpoint, '1', [endpoints('a', [{ port: 1 }]), endpoints('zzz', [{ port: 2 }])]),
  );
  assert.deepEqual([...cache.snapshot().endpoints.keys()], ['a']);

  cache.handleResponse(
    response(TYPE.listener, '1', [
      httpListener(9080),
      httpListener(9090, 'shared'),
      httpListener(9091, 'shared'),
    ]),
  );
  assert.deepEqual(cache.wantedRouteNames(), ['9080', 'shared']);

  // A cluster that disappears from CDS (state of the world) drops its endpoints subscription.
  cache.handleResponse(
    response(TYPE.cluster, '2', [edsCluster('b', { eds_cluster_config: { service_name: 'b-eds' } })]),
  );
  assert.deepEqual([...cache.snapshot().clusters.keys()], ['b']);
  cache.setSubscription('EDS', cache.wantedEndpointNames());
  assert.deepEqual([...cache.snapshot().endpoints.keys()], []);
  assert.deepEqual(cache.snapshot().versions, { CDS: '2', EDS: '1', LDS: '1', RDS: '', SDS: '' });
});

test('a response with any invalid resource is rejected whole and names every problem', () => {
  const cache = new XdsResourceCache(() => 0);
  cache.handleResponse(response(TYPE.cluster, '1', [edsCluster('good')]));
  const outcome = cache.handleResponse(
    response(TYPE.cluster, '2', [
      edsCluster('good'),
      { name: 'dns', type: 'STRICT_DNS' },
      { name: 'tls', type: 'EDS', transport_socket: { name: 'envoy.transport_sockets.tls' } },
      edsCluster('good'),
    ]),
  );
  assert.equal(outcome.kind, 'nack');
  if (outcome.kind !== 'nack') return;
  assert.equal(outcome.version, '1', 'NACK carries the version still in use');
  assert.deepEqual(outcome.problems, [
    'Cluster "dns".load_assignment: a STRICT_DNS cluster needs load_assignment',
    'Cluster "tls".transport_socket.typed_config: transport socket "envoy.transport_sockets.tls" needs typed_config (an UpstreamTlsContext, or raw_buffer)',
    'Cluster "good": duplicate resource name',
  ]);
  assert.deepEqual([...cache.snapshot().clusters.keys()], ['good']);
  assert.equal(cache.snapshot().versions.CDS, '1');
});

test('unchanged resources keep their last_updated time', () => {
  let now = 100;
  const cache = new XdsResourceCache(() => now);
  cache.handleResponse(response(TYPE.route, '1', []));
  cache.setSubscription('RDS', ['r1', 'r2']);
  cache.handleResponse(response(TYPE.route, '1', [routeConfig('r1', []), routeConfig('r2', [])]));
  now = 200;
  cache.handleResponse(
    response(TYPE.route, '2', [
      routeConfig('r1', []),
      routeConfig('r2', [{ name: 'v', domains: ['*'], routes: [] }]),
    ]),
  );
  const raw = cache.snapshot().raw.RDS;
  assert.equal(raw.get('r1')?.lastUpdatedMs, 100);
  assert.equal(raw.get('r2')?.lastUpdatedMs, 200);
  assert.equal(raw.get('r1')?.version, '2');
});
