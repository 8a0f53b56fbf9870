/**
 * IstioStats.record's fast path (a request with the same label fields as the one before skips
 * building its key): a sequence that changes one label field at a time must land every request
 * in the series a fresh recorder would choose. The reference records each request into its own
 * IstioStats (always the slow path) and merges them, which prints what one recorder must print.
 * Histograms keep one count per bucket and print cumulative counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionSecurity } from '../connection-manager/downstream.js';
import type { ResponseFlag } from '../connection-manager/response-flags.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import { IstioStats } from './stats.js';

const NODE: ProxyBootstrap = {
  nodeId: 'sidecar~127.0.0.1~reviews-v1.default~default.svc.cluster.local',
  cluster: 'reviews.default',
  mode: 'sidecar',
  namespace: 'default',
  workloadName: 'reviews-v1',
  labels: { app: 'reviews', version: 'v1' },
  instanceIps: ['127.0.0.1'],
  locality: '',
};

const REVIEWS = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';
const ID = { workload: 'reviews-v1', namespace: 'default', version: 'v1' };
const MTLS: ConnectionSecurity = {
  policy: 'mutual_tls',
  peerPrincipal: 'spiffe://cluster.local/ns/default/sa/productpage',
  localPrincipal: 'spiffe://cluster.local/ns/default/sa/reviews',
};

interface Fields {
  reporter?: 'source' | 'destination';
  cluster?: string | undefined;
  authority?: string;
  identity?: StreamInfo['destinationIdentity'];
  status?: number;
  flags?: ResponseFlag[];
  grpcStatus?: string;
  security?: ConnectionSecurity;
  durationMs?: number;
}

function info(f: Fields): StreamInfo {
  return {
    startWallMs: 0,
    startMs: 0,
    reporter: f.reporter ?? 'source',
    method: 'GET',
    path: '/',
    authority: f.authority ?? 'reviews:9080',
    protocol: 'HTTP/1.1',
    requestId: '',
    requestHeaders: {},
    userAgent: '',
    forwardedFor: '',
    downstreamRemote: '127.0.0.1',
    status: f.status ?? 200,
    flags: new Set(f.flags ?? []),
    bytesReceived: 10,
    bytesSent: 100,
    durationMs: f.durationMs ?? 3,
    attempts: 1,
    ...('cluster' in f
      ? f.cluster === undefined
        ? {}
        : { upstreamCluster: f.cluster }
      : { upstreamCluster: REVIEWS }),
    ...('identity' in f
      ? f.identity === undefined
        ? {}
        : { destinationIdentity: f.identity }
      : { destinationIdentity: ID }),
    ...(f.grpcStatus !== undefined ? { grpcStatus: f.grpcStatus } : {}),
    ...(f.security !== undefined ? { downstreamSecurity: f.security } : {}),
  };
}

/** Each step differs from the one before in one label field (or repeats it). */
const SEQUENCE: [string, Fields][] = [
  ['first', {}],
  ['same again', {}],
  ['status', { status: 503 }],
  ['status back', {}],
  ['response flag', { flags: ['UF'] }],
  ['same flag again', { flags: ['UF'] }],
  ['other flag, same status', { flags: ['URX'] }],
  ['no flag', {}],
  ['cluster', { cluster: RATINGS }],
  ['no cluster: authority decides', { cluster: undefined, authority: 'a:80' }],
  ['no cluster, other authority', { cluster: undefined, authority: 'b:80' }],
  ['identity with other values', { identity: { ...ID, version: 'v2' } }],
  ['identity: equal values, another object', { identity: { ...ID } }],
  ['no identity', { identity: undefined }],
  ['gRPC status', { grpcStatus: '0' }],
  ['other gRPC status', { grpcStatus: '7' }],
  ['destination, plain text', { reporter: 'destination' }],
  ['destination, mTLS', { reporter: 'destination', security: MTLS }],
  ['destination, mTLS again (another connection)', { reporter: 'destination', security: { ...MTLS } }],
  [
    'other peer',
    { reporter: 'destination', security: { ...MTLS, peerPrincipal: 'spiffe://cluster.local/ns/x/sa/y' } },
  ],
  [
    'policy none',
    { reporter: 'destination', security: { policy: 'none', localPrincipal: MTLS.localPrincipal } },
  ],
  ['same peer, only the policy differs', { reporter: 'destination', security: { ...MTLS, policy: 'none' } }],
  ['mTLS', { reporter: 'destination', security: MTLS }],
  [
    'same peer, only the local principal differs',
    {
      reporter: 'destination',
      security: { ...MTLS, localPrincipal: 'spiffe://cluster.local/ns/default/sa/other' },
    },
  ],
  ['back to plain text', { reporter: 'destination' }],
  ['source side ignores security', { security: MTLS }],
  ['source, no security', {}],
  ['slow request', { durationMs: 7000 }],
  ['beyond every bucket', { durationMs: 9_000_000 }],
];

test('record: each request lands in the series a fresh recorder would choose, whatever came before', () => {
  const sequential = new IstioStats(NODE);
  const reference = new IstioStats(NODE);
  for (const [name, fields] of SEQUENCE) {
    sequential.record(info(fields));
    const alone = new IstioStats(NODE);
    alone.record(info(fields));
    reference.merge(alone.serialize());
    assert.equal(sequential.prometheus(), reference.prometheus(), `after "${name}"`);
  }
});

test('histograms print cumulative bucket counts; +Inf counts what no bucket holds', () => {
  const stats = new IstioStats(NODE);
  for (const ms of [0.2, 3, 3, 70, 9_000_000]) stats.record(info({ durationMs: ms }));
  const text = stats.prometheus();
  const bucket = (le: string) =>
    new RegExp(
      `istio_request_duration_milliseconds_bucket\\{[^}]*,le="${le.replace('+', '\\+')}"\\} (\\d+)`,
    ).exec(text)?.[1];
  assert.deepEqual(['0.5', '1', '5', '10', '50', '100', '3600000', '+Inf'].map(bucket), [
    '1',
    '1',
    '3',
    '3',
    '3',
    '4',
    '4',
    '5',
  ]);
  assert.match(text, /istio_request_duration_milliseconds_count\{[^}]*\} 5/);
  // Serialized for the primary: cumulative too, and merging adds them.
  const data = stats.serialize();
  assert.deepEqual(data.requests[0]!.duration.counts.slice(0, 4), [1, 1, 3, 3]);
  const merged = new IstioStats(NODE);
  merged.merge(data);
  merged.merge(data);
  assert.match(merged.prometheus(), /istio_request_duration_milliseconds_bucket\{[^}]*,le="5"\} 6/);
});
