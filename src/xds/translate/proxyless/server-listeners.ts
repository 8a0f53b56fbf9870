/**
 * LDS for xDS-enabled gRPC servers: a Listener for each `xds.istio.io/grpc/lds/inbound/IP:PORT`
 * name the server asks for whose port the workload serves (served-ports.ts). Other names get
 * no resource, so the server does not serve them (gRFC A36: it waits for its Listener).
 *
 * Two inputs come from the security translation, through ServerListenerInputs: the port's
 * PeerAuthentication mode and its authorization filters. Both enter the key as what they
 * return, so whatever computes them is covered by the key without naming its own inputs here.
 */
import type { HttpFilter, Listener } from '../../../protocol/envoy-types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { digest } from '../memo.js';
import type { PushContext } from '../push-context.js';
import { grpcAuthzFilters } from './rbac-for-grpc.js';
import { servedPorts } from './served-ports.js';
import { buildServerListener } from './server-listener.js';
import { parseServerListenerName } from './server-names.js';
import { serverTransport, type MtlsMode } from './tls-mode.js';
import { proxySecurity } from '../security/authorization-proxy.js';
import { HTTP_RBAC_FILTER } from '../security/authorization-filters.js';
import { modeForPort, proxyPeerAuthentication } from '../security/peer-authn.js';

/** What the security translation decides for a port the workload listens on. */
export interface ServerListenerInputs {
  /** The PeerAuthentication mode of the port (the workload's listening port, as in Istio). */
  mtlsModeFor(port: number): MtlsMode;
  /**
   * envoy.filters.http.rbac filters (DENY, then ALLOW) for the port, as for a sidecar; they are
   * made safe for gRPC (rbac-for-grpc.ts) and the router is added after them.
   */
  authzFilters(port: number): readonly HttpFilter[];
}

/**
 * The security translation's answers for a proxyless workload: the PeerAuthentication mode of
 * the port and the AuthorizationPolicy RBAC filters.
 */
export function defaultServerInputs(push: PushContext, proxy: ProxyNode): ServerListenerInputs {
  const peerAuthn = proxyPeerAuthentication(push, proxy).merged;
  // Istio's grpcgen gives gRPC servers the DENY and ALLOW RBAC filters only: no jwt_authn or
  // ext_authz (gRPC has neither); rule-less shadow and LOG filters are dropped by rbac-for-grpc.
  const rbac = proxySecurity(push, proxy).http.filter((f) => f.name === HTTP_RBAC_FILTER);
  return { mtlsModeFor: (port) => modeForPort(peerAuthn, port), authzFilters: () => rbac };
}

interface PortPlan {
  port: number;
  transport: ReturnType<typeof serverTransport>;
  filters: readonly HttpFilter[];
}

function plan(push: PushContext, proxy: ProxyNode, inputs: ServerListenerInputs): PortPlan[] {
  return servedPorts(push, proxy).map((p) => ({
    port: p.port,
    transport: serverTransport(inputs.mtlsModeFor(p.port), proxy.labels),
    // As the seam gives them: the key digests these, the Listener gets them made safe for gRPC
    // (a pure function of them), so the key needs no decoding.
    filters: inputs.authzFilters(p.port),
  }));
}

/** Everything the server listeners of `proxy` depend on, per served port. */
export function serverListenersKey(
  push: PushContext,
  proxy: ProxyNode,
  inputs: ServerListenerInputs = defaultServerInputs(push, proxy),
): string {
  return plan(push, proxy, inputs)
    .map(
      (p) => `${p.port}:${p.transport}:${p.filters.length === 0 ? '-' : digest(JSON.stringify(p.filters))}`,
    )
    .join(',');
}

/** The Listeners for the server listener names among `names` (others are ignored). */
export function serverListeners(
  push: PushContext,
  proxy: ProxyNode,
  names: readonly string[] | undefined,
  inputs: ServerListenerInputs = defaultServerInputs(push, proxy),
): Map<string, Listener> {
  const out = new Map<string, Listener>();
  const requested = (names ?? []).flatMap((name) => {
    const parsed = parseServerListenerName(name);
    return parsed === undefined ? [] : [{ name, ...parsed }];
  });
  if (requested.length === 0) return out;
  const byPort = new Map(plan(push, proxy, inputs).map((p) => [p.port, p]));
  for (const r of requested) {
    const p = byPort.get(r.port);
    if (p === undefined) continue;
    out.set(
      r.name,
      buildServerListener({
        name: r.name,
        address: r.address,
        port: r.port,
        transport: p.transport,
        filters: grpcAuthzFilters(p.filters),
      }),
    );
  }
  return out;
}
