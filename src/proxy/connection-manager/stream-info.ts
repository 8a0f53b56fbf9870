/**
 * What happened to one request, filled in as it goes and read by the access log and the
 * metrics at the end: Envoy's StreamInfo, reduced to what those two print.
 */
import type { EndpointIdentity } from '../model/config.js';
import type { Clock } from '../../core/clock.js';
import type { ConnectionSecurity, Downstream } from './downstream.js';
import { first } from './headers.js';
import type { PeerMetadata } from './peer-metadata.js';
import type { ResponseFlag } from './response-flags.js';

export type Reporter = 'source' | 'destination';

export interface StreamInfo {
  startWallMs: number;
  startMs: number;
  reporter: Reporter;
  method: string;
  path: string;
  authority: string;
  protocol: string;
  requestId: string;
  /** Downstream request headers as received (lower-case names), for %REQ(...)%. */
  requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  userAgent: string;
  forwardedFor: string;
  downstreamRemote: string;
  status: number;
  flags: Set<ResponseFlag>;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamServiceTimeMs?: number;
  upstreamHost?: string;
  upstreamCluster?: string;
  destinationIdentity?: EndpointIdentity;
  routeName?: string;
  grpcStatus?: string;
  attempts: number;
  /** Envoy's %RESPONSE_CODE_DETAILS% when a filter answered (rbac_access_denied_matched_policy[...]). */
  responseCodeDetails?: string;
  /** What the downstream connection's TLS handshake proved; undefined for plain text. */
  downstreamSecurity?: ConnectionSecurity;
  /** gRPC messages in the request and the response body (gRPC requests only). */
  requestMessages?: number;
  responseMessages?: number;
  /** The caller's workload metadata (Istio's metadata exchange), on the destination side. */
  sourcePeer?: PeerMetadata;
  /** Why the last upstream connection failed at the transport (TLS) layer, Envoy's wording. */
  upstreamTransportFailureReason?: string;
}

/** A fresh StreamInfo for a request that starts now. */
export function startStreamInfo(ds: Downstream, reporter: Reporter, clock: Clock, attempts = 0): StreamInfo {
  return {
    startWallMs: clock.wallNow(),
    startMs: clock.now(),
    reporter,
    method: ds.method,
    path: ds.path,
    authority: ds.authority,
    protocol: ds.protocol,
    requestId: first(ds.headers['x-request-id']) ?? '',
    requestHeaders: ds.headers,
    userAgent: first(ds.headers['user-agent']) ?? '',
    forwardedFor: first(ds.headers['x-forwarded-for']) ?? '',
    downstreamRemote: ds.remoteAddress,
    status: 0,
    flags: new Set(),
    bytesReceived: 0,
    bytesSent: 0,
    durationMs: 0,
    attempts,
    downstreamSecurity: ds.security,
  };
}
