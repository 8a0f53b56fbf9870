/**
 * What happened to one request, filled in as it goes and read by the access log and the
 * metrics at the end: Envoy's StreamInfo, reduced to what those two print.
 */
import type { EndpointIdentity } from '../config.js';
import type { ResponseFlag } from './local-reply.js';

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
}

export function flagsText(flags: ReadonlySet<ResponseFlag>): string {
  return flags.size === 0 ? '-' : [...flags].join(',');
}
