/**
 * HTTP/1.1 upgrades (WebSocket): routed like any request, then the proxy opens a TCP connection
 * to the chosen endpoint, replays the request head, and pipes bytes both ways until either side
 * closes. Local failures are written as plain HTTP responses with their response flag.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ForwardAction } from '../config.js';
import type { Downstream } from './downstream.js';
import { applyMutations, forwardableHeaders, propagateRequestContext } from './headers.js';
import { localReply, type LocalReplyReason } from './local-reply.js';
import { matchRoute, pickTarget, rewritePath, selectVirtualHost } from './route-table.js';
import type { RequestTarget, RouterDeps } from './router.js';
import { startStreamInfo, type Reporter, type StreamInfo } from './stream-info.js';

/**
 * `ds` is the parsed upgrade request; only its request side is read (an upgraded socket carries
 * raw bytes from here on). `head` holds the bytes the client sent after the request head.
 */
export function handleUpgrade(
  ds: Downstream,
  socket: Duplex,
  head: Buffer,
  resolve: (ds: Downstream) => RequestTarget,
  reporter: Reporter,
  deps: RouterDeps,
): void {
  // Bytes the client sends before the upstream is connected stay in the socket until pipe()
  // resumes it: the byte counter below must not set it flowing and drop them.
  socket.pause();
  // Upgrades carry no request id or forwarded-for of their own in the access log.
  const info: StreamInfo = {
    ...startStreamInfo(ds, reporter, deps.clock, 1),
    requestId: '',
    forwardedFor: '',
  };
  const target = resolve(ds);
  const hcm = target.kind === 'reply' ? undefined : target.hcm;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    info.durationMs = deps.clock.now() - info.startMs;
    deps.stats.record(info);
    if (hcm && hcm.accessLogs.length > 0) deps.accessLogs.log(hcm.accessLogs, info);
  };
  const fail = (reason: LocalReplyReason) => {
    const reply = localReply(reason);
    info.flags.add(reply.flag);
    info.status = reply.status;
    info.bytesSent = Buffer.byteLength(reply.body);
    // Read (and drop) what the client sends meanwhile, so its FIN closes the socket.
    socket.resume();
    socket.end(
      `HTTP/1.1 ${reply.status} ${reply.status === 404 ? 'Not Found' : 'Service Unavailable'}\r\ncontent-type: text/plain\r\n` +
        `content-length: ${info.bytesSent}\r\nconnection: close\r\n\r\n${reply.body}`,
    );
    finish();
  };
  socket.on('error', () => undefined);
  if (target.kind === 'reply') return fail(target.reason);
  if (target.kind === 'cluster') return fail({ kind: 'no-route', authority: ds.authority, path: ds.path });
  const vh = target.table ? selectVirtualHost(target.table, ds.authority) : undefined;
  const route = vh
    ? matchRoute(vh, {
        authority: ds.authority,
        path: ds.path,
        method: ds.method,
        headers: { ...ds.headers, ':path': ds.path, ':method': ds.method, ':authority': ds.authority },
      })
    : undefined;
  if (!target.table || !vh || !route || route.action.kind !== 'forward') {
    return fail({ kind: 'no-route', authority: ds.authority, path: ds.path });
  }
  const action: ForwardAction = route.action;
  const picked = pickTarget(action, deps.random);
  const cluster = picked ? deps.clusters.get(picked.cluster) : undefined;
  info.upstreamCluster = picked?.cluster;
  if (!picked || !cluster) return fail({ kind: 'no-cluster', cluster: picked?.cluster ?? '' });
  const host = cluster.pick();
  if (!host) return fail({ kind: 'no-healthy-upstream', cluster: picked.cluster });
  info.upstreamHost = host.endpoint.key;
  info.destinationIdentity = host.endpoint.identity;
  const headers = forwardableHeaders(ds.headers);
  headers.connection = 'upgrade';
  headers.upgrade = String(ds.headers.upgrade ?? '');
  applyMutations(headers, [
    picked.requestHeaders,
    route.requestHeaders,
    vh.requestHeaders,
    target.table.requestHeaders,
  ]);
  info.requestId = propagateRequestContext(headers, hcm?.generateRequestId ?? true);
  const authority = action.hostRewrite ?? ds.authority;
  const lines = [`${ds.method} ${rewritePath(route, action, ds.path)} HTTP/1.1`, `host: ${authority}`];
  for (const [k, v] of Object.entries(headers))
    for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
  const upstream = net.connect({ host: host.endpoint.host, port: host.endpoint.port });
  let connected = false;
  const timer = setTimeout(
    () => upstream.destroy(new Error('connect timeout')),
    cluster.config.connectTimeoutMs,
  );
  upstream.on('connect', () => {
    connected = true;
    clearTimeout(timer);
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  upstream.once('data', (chunk: Buffer) => {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
    info.status = m ? Number(m[1]) : 0;
  });
  upstream.on('data', (c: Buffer) => (info.bytesSent += c.length));
  socket.on('data', (c: Buffer) => (info.bytesReceived += c.length));
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (!connected)
      return fail({ kind: 'connect-failure', cluster: picked.cluster, detail: err.code ?? err.message });
    socket.destroy();
  });
  upstream.on('close', () => {
    socket.end();
    finish();
  });
  socket.on('close', () => {
    // The client is gone entirely: nothing more can be delivered, so close the upstream too.
    upstream.destroy();
    finish();
  });
}
