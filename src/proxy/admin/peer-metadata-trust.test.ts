/**
 * Istio's metadata exchange header names a caller; it proves nothing. Through two real sidecars:
 * the destination reads it only on a mutual TLS connection whose certificate's namespace is the
 * header's, strips it everywhere, and the series a caller can mint are bounded and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../core/testing/eventually.js';
import { encodePeerMetadata, principalNamespace } from '../connection-manager/peer-metadata.js';
import { request } from '../testing/harness.js';
import { findSeries, scrape } from '../testing/prometheus-series.js';
import { startSidecars } from '../testing/sidecars.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import { SERIES_OVERFLOW } from './stats.js';

const CLIENT: ProxyBootstrap = {
  nodeId: 'sidecar~127.0.0.1~productpage-v1-abc.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  mode: 'sidecar',
  namespace: 'default',
  workloadName: 'productpage-v1',
  labels: { app: 'productpage', version: 'v1' },
  instanceIps: ['127.0.0.1'],
  locality: '',
};

const forged = (workloadName: string, namespace = 'default') =>
  encodePeerMetadata({ ...CLIENT, workloadName, namespace, labels: { app: workloadName } });

async function destinationSeries(adminPort: number, match: Record<string, string>) {
  return await eventually(
    async () => {
      const found = findSeries(await scrape(adminPort), 'istio_requests_total', {
        reporter: 'destination',
        ...match,
      });
      return found.length > 0 ? found : false;
    },
    `destination series ${JSON.stringify(match)}`,
  );
}

test('principalNamespace reads only a whole SPIFFE identity', () => {
  const table: [string | undefined, string | undefined][] = [
    ['spiffe://cluster.local/ns/default/sa/productpage', 'default'],
    ['spiffe://td/ns/bookinfo/sa/x', 'bookinfo'],
    ['spiffe://td/ns//sa/x', undefined],
    ['spiffe://td/ns/a/b/sa/x', undefined],
    ['spiffe://td/sa/x/ns/a', undefined],
    ['CN=foo', undefined],
    [undefined, undefined],
  ];
  for (const [principal, ns] of table) assert.equal(principalNamespace(principal), ns, String(principal));
});

test('plaintext: a forged metadata header straight at the inbound port changes no source label and is stripped', async (t) => {
  const m = await startSidecars(t, { mode: 'PERMISSIVE', tlsMode: 'disabled', clientBootstrap: CLIENT });
  const res = await request(m.inboundPort, {
    host: 'reviews:9080',
    path: '/forged',
    headers: {
      'x-envoy-peer-metadata': forged('evil-v1'),
      'x-envoy-peer-metadata-id': 'sidecar~1.2.3.4~evil',
    },
  });
  assert.equal(res.status, 200);
  const seen = res.json().headers as Record<string, string>;
  assert.equal(seen['x-envoy-peer-metadata'], undefined);
  assert.equal(seen['x-envoy-peer-metadata-id'], undefined);
  // Through the client sidecar too, plaintext: its (genuine) metadata is not trusted either.
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080', path: '/plain' })).status, 200);
  const all = await eventually(async () => {
    const found = findSeries(await scrape(m.server.adminPort), 'istio_requests_total', {
      reporter: 'destination',
    });
    return found.reduce((n, s) => n + s.value, 0) === 2 ? found : false;
  }, 'both requests counted');
  for (const s of all) {
    assert.equal(s.labels.source_workload, 'unknown');
    assert.equal(s.labels.source_canonical_service, 'unknown');
  }
});

test('mutual TLS: the client sidecar names its workload; metadata naming another namespace than the certificate is ignored', async (t) => {
  const m = await startSidecars(t, { clientBootstrap: CLIENT });
  assert.equal((await request(m.outboundPort, { host: 'reviews:9080', path: '/r' })).status, 200);
  const [trusted] = await destinationSeries(m.server.adminPort, { source_workload: 'productpage-v1' });
  assert.equal(trusted?.labels.connection_security_policy, 'mutual_tls');

  // A client sidecar (certificate for namespace default) claiming namespace prod.
  const liar = await startSidecars(t, {
    clientBootstrap: { ...CLIENT, namespace: 'prod', workloadName: 'payments' },
  });
  assert.equal((await request(liar.outboundPort, { host: 'reviews:9080', path: '/r' })).status, 200);
  const [ignored] = await destinationSeries(liar.server.adminPort, {});
  assert.equal(ignored?.labels.connection_security_policy, 'mutual_tls');
  assert.equal(ignored?.labels.source_workload, 'unknown');
  assert.equal(ignored?.labels.source_workload_namespace, 'unknown');
});

test('series are bounded: past the cap new label sets are not kept and the overflow counter counts them', async (t) => {
  const m = await startSidecars(t, { clientBootstrap: CLIENT });
  m.client.stats.maxSeries = 2;
  // Unrouted authorities come from callers: each would be a new source series.
  for (let i = 0; i < 5; i++) {
    const res = await request(m.outboundPort, { host: `nowhere-${i}.example:9080`, path: '/' });
    assert.equal(res.status, 404);
  }
  const series = await eventually(async () => {
    const found = findSeries(await scrape(m.client.adminPort), 'istio_requests_total', {
      reporter: 'source',
    });
    return found.length === 2 ? found : false;
  }, 'two kept series');
  assert.deepEqual(
    series.map((s) => s.value),
    [1, 1],
  );
  const stats = await (await fetch(`http://127.0.0.1:${m.client.adminPort}/stats`)).text();
  assert.match(stats, new RegExp(`^${SERIES_OVERFLOW.replace(/\./g, '\\.')}: 3$`, 'm'));
  // A kept series still counts.
  await request(m.outboundPort, { host: 'nowhere-0.example:9080', path: '/' });
  await eventually(async () => {
    const found = findSeries(await scrape(m.client.adminPort), 'istio_requests_total', {
      reporter: 'source',
    });
    return found.reduce((n, s) => n + s.value, 0) === 3;
  }, 'kept series counts again');
});
