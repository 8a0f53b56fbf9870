/**
 * IstioStats across processes (trellis proxy --concurrency N): what two workers recorded, sent
 * as JSON and merged in the primary, prints exactly what one process that recorded everything
 * would print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResponseFlag } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import { IstioStats, type IstioStatsData } from './stats.js';

const NODE: ProxyBootstrap = {
  nodeId: 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  mode: 'sidecar',
  namespace: 'default',
  workloadName: 'productpage-v1',
  labels: { app: 'productpage', version: 'v1' },
  instanceIps: ['127.0.0.1'],
  locality: '',
};

function info(
  cluster: string,
  status: number,
  durationMs: number,
  bytes: number,
  flags: ResponseFlag[] = [],
) {
  return {
    startWallMs: 0,
    startMs: 0,
    reporter: 'source',
    method: 'GET',
    path: '/',
    authority: 'reviews:9080',
    protocol: 'HTTP/1.1',
    requestId: '',
    requestHeaders: {},
    userAgent: '',
    forwardedFor: '',
    downstreamRemote: '127.0.0.1',
    status,
    flags: new Set(flags),
    bytesReceived: bytes,
    bytesSent: bytes * 10,
    durationMs,
    upstreamCluster: cluster,
    destinationIdentity: { workload: 'reviews-v1', namespace: 'default', version: 'v1' },
    attempts: 0,
  } as unknown as StreamInfo;
}

const REVIEWS = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';

/** Over IPC the data travels as JSON. */
const overIpc = (d: IstioStatsData) => JSON.parse(JSON.stringify(d)) as IstioStatsData;

test('merged worker stats print exactly what one process recording everything prints', () => {
  const a = new IstioStats(NODE);
  const b = new IstioStats(NODE);
  const all = new IstioStats(NODE);
  const recordBoth = (stats: IstioStats, i: StreamInfo) => {
    stats.record(i);
    all.record(i);
  };
  recordBoth(a, info(REVIEWS, 200, 3, 50));
  recordBoth(a, info(REVIEWS, 200, 700, 5000));
  recordBoth(a, info(RATINGS, 503, 1, 0, ['UF']));
  recordBoth(b, info(REVIEWS, 200, 12, 120));
  recordBoth(b, info(RATINGS, 503, 2, 0, ['UF']));
  recordBoth(b, info(REVIEWS, 404, 0.2, 1));
  for (const [stats, received] of [
    [a, 100],
    [b, 7],
  ] as const) {
    const s = stats.tcpSeries(info(RATINGS, 0, 0, 0));
    s.opened++;
    s.closed++;
    s.received += received;
    s.sent += received * 2;
  }
  const t = all.tcpSeries(info(RATINGS, 0, 0, 0));
  t.opened += 2;
  t.closed += 2;
  t.received += 107;
  t.sent += 214;

  const merged = new IstioStats(NODE);
  merged.merge(overIpc(a.serialize()));
  merged.merge(overIpc(b.serialize()));
  assert.equal(merged.prometheus(), all.prometheus());

  const text = merged.prometheus();
  const total = text
    .split('\n')
    .filter((l) => l.startsWith('istio_requests_total{'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  assert.equal(total, 6);
  assert.match(text, /istio_tcp_received_bytes_total\{[^}]*\} 107\n/);
});

test('merging leaves the sources unchanged and sums repeatedly', () => {
  const a = new IstioStats(NODE);
  a.record(info(REVIEWS, 200, 3, 50));
  const before = a.prometheus();
  const merged = new IstioStats(NODE);
  merged.merge(a.serialize());
  merged.merge(a.serialize());
  assert.equal(a.prometheus(), before);
  assert.match(merged.prometheus(), /istio_requests_total\{[^}]*\} 2\n/);
  assert.match(merged.prometheus(), /istio_request_duration_milliseconds_bucket\{[^}]*le="5"\} 2\n/);
  assert.match(merged.prometheus(), /istio_request_duration_milliseconds_sum\{[^}]*\} 6\n/);
});
