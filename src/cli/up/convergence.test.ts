import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emptySnapshot,
  type ClusterConfig,
  type Endpoint,
  type ProxyConfigSnapshot,
} from '../../proxy/model/config.js';
import { proxiesHaveEndpoints } from './convergence.js';

const CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

function snapshot(endpoints: number, hasCluster = true): ProxyConfigSnapshot {
  const eps: Endpoint[] = Array.from({ length: endpoints }, (_, i) => ({
    key: `127.0.0.1:${3000 + i}`,
    host: '127.0.0.1',
    port: 3000 + i,
    healthy: true,
    healthStatus: 'HEALTHY',
    weight: 1,
    identity: {},
  }));
  const base = emptySnapshot();
  return {
    ...base,
    clusters: new Map(hasCluster ? [[CLUSTER, {} as ClusterConfig]] : []),
    endpoints: new Map([
      [
        CLUSTER,
        {
          clusterName: CLUSTER,
          overprovisioningFactor: 140,
          localities: [{ locality: '', weight: 1, priority: 0, endpoints: eps }],
        },
      ],
    ]),
  };
}

test('ready only when every proxy with the cluster has every registered instance', () => {
  const expected = new Map([[CLUSTER, 3]]);
  assert.equal(proxiesHaveEndpoints([snapshot(3), snapshot(3)], expected), true);
  assert.equal(proxiesHaveEndpoints([snapshot(3), snapshot(2)], expected), false);
  assert.equal(proxiesHaveEndpoints([snapshot(3), snapshot(0, false)], expected), true, 'scoped out');
});
