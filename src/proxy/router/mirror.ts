/**
 * Request mirroring (RouteAction.request_mirror_policies): a copy of the request goes to the
 * shadow cluster with `-shadow` appended to the host, as Envoy does, and its response is
 * discarded. Fire and forget: a failing or slow shadow never affects the real request.
 */
import type { ClusterRuntime } from '../upstream/cluster-manager.js';
import type { UpstreamPools } from '../upstream/pools.js';
import { DISCARD_BODY, type OutgoingHeaders } from '../upstream/attempt.js';
import { sendUpstream } from '../upstream/upstream-request.js';
import { upstreamTlsFor } from '../upstream/transport-socket-match.js';
import type { ReplayableBody } from '../connection-manager/request-body.js';

export function shadowAuthority(authority: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(authority);
  return `${m?.[1] ?? authority}-shadow${m?.[2] ?? ''}`;
}

export function mirrorRequest(
  cluster: ClusterRuntime,
  req: { method: string; path: string; authority: string; headers: OutgoingHeaders; body: ReplayableBody },
  pools: UpstreamPools,
): void {
  const host = cluster.pick();
  if (!host) return;
  const attempt = sendUpstream(
    {
      endpoint: host.endpoint,
      http2: cluster.config.http2,
      method: req.method,
      path: req.path,
      authority: shadowAuthority(req.authority),
      headers: { ...req.headers },
      body: req.body,
      connectTimeoutMs: cluster.config.connectTimeoutMs,
      maxConnections: cluster.config.circuitBreakers.DEFAULT.connections,
      shadow: true,
      tls: upstreamTlsFor(cluster.config, host.endpoint),
    },
    pools,
  );
  attempt.response.then(
    (res) => res.read(DISCARD_BODY),
    () => attempt.detachBody(),
  );
}
