/**
 * Client side of the global rate limit filter: asks the rate limit service
 * (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit over gRPC) about a request's
 * descriptors, through an endpoint of the configured cluster. One channel per endpoint.
 */
import * as grpc from '@grpc/grpc-js';
import { rateLimitService } from '../../protocol/grpc-services.js';
import type { DescriptorEntry, GlobalRateLimitConfig } from '../model/config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';

interface RlsResponse {
  overall_code?: string;
  statuses?: {
    code?: string;
    current_limit?: { requests_per_unit?: number; unit?: string };
    limit_remaining?: number;
    duration_until_reset?: { seconds?: number; nanos?: number };
  }[];
  response_headers_to_add?: { key?: string; value?: string }[];
  request_headers_to_add?: { key?: string; value?: string }[];
}

export type RateLimitAnswer =
  | { kind: 'ok'; responseHeaders: [string, string][]; requestHeaders: [string, string][] }
  | { kind: 'over-limit'; responseHeaders: [string, string][] }
  | { kind: 'error'; message: string };

const UNIT_SECONDS: Record<string, number> = {
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86400,
  MONTH: 2592000,
  YEAR: 31536000,
};

/**
 * grpc-js backs reconnects off exponentially up to 120 s, so after a long outage of the service
 * requests would go unlimited (failing open) for up to two minutes after it is back. Envoy's
 * connection pools retry on the next request instead; a short cap keeps the two close.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

export class RateLimitClient {
  private readonly channels = new Map<string, grpc.Client>();

  constructor(private readonly clusters: ClusterManager) {}

  async check(config: GlobalRateLimitConfig, descriptors: DescriptorEntry[][]): Promise<RateLimitAnswer> {
    const host = this.clusters.get(config.cluster)?.pick();
    if (!host) return { kind: 'error', message: `no endpoint in rate limit cluster ${config.cluster}` };
    let client = this.channels.get(host.endpoint.key);
    if (!client) {
      client = new grpc.Client(host.endpoint.key, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.channels.set(host.endpoint.key, client);
    }
    const method = rateLimitService().ShouldRateLimit!;
    const request = { domain: config.domain, descriptors: descriptors.map((entries) => ({ entries })) };
    const response = await new Promise<RlsResponse | Error>((resolve) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize as (v: object) => Buffer,
        method.responseDeserialize as (b: Buffer) => RlsResponse,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + config.timeoutMs },
        (err, value) => resolve(err ?? value ?? new Error('empty response')),
      );
    });
    if (response instanceof Error) return { kind: 'error', message: response.message };
    const headers: [string, string][] = (response.response_headers_to_add ?? []).map((h) => [
      (h.key ?? '').toLowerCase(),
      h.value ?? '',
    ]);
    if (config.xRateLimitHeaders) headers.push(...draftHeaders(response));
    if (response.overall_code === 'OVER_LIMIT') return { kind: 'over-limit', responseHeaders: headers };
    const requestHeaders: [string, string][] = (response.request_headers_to_add ?? []).map((h) => [
      (h.key ?? '').toLowerCase(),
      h.value ?? '',
    ]);
    return { kind: 'ok', responseHeaders: headers, requestHeaders };
  }

  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}

/** x-ratelimit-* (draft 03) from the status closest to its limit, as Envoy reports them. */
function draftHeaders(res: RlsResponse): [string, string][] {
  const limited = (res.statuses ?? []).filter((s) => s.current_limit?.requests_per_unit !== undefined);
  if (limited.length === 0) return [];
  const s = limited.reduce((a, b) => ((b.limit_remaining ?? 0) < (a.limit_remaining ?? 0) ? b : a));
  const limit = s.current_limit?.requests_per_unit ?? 0;
  const window = UNIT_SECONDS[s.current_limit?.unit ?? 'SECOND'] ?? 1;
  return [
    ['x-ratelimit-limit', `${limit}, ${limit};w=${window}`],
    ['x-ratelimit-remaining', String(s.limit_remaining ?? 0)],
    ['x-ratelimit-reset', String(s.duration_until_reset?.seconds ?? 0)],
  ];
}
