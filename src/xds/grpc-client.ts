/**
 * Recognising a proxyless gRPC client whose bootstrap carries none of Istio's node metadata
 * (`GENERATOR: grpc`): bootstraps written for other control planes hold a node id and a locality
 * only. What the client is and what it asks tell it apart from Envoy and the Trellis proxy:
 *
 * - its user agent: every gRPC xDS client names itself `gRPC <language>` (`gRPC Go`,
 *   `gRPC Java`, `gRPC Node Pure JS`, `gRPC C-core ...`); Envoy says `envoy`, Trellis
 *   `trellis-proxy`;
 * - what it subscribes to first: a gRPC client asks LDS for the listener of its target by name,
 *   `host:port` (a channel to `xds:///host:port`) or the server template
 *   `xds.istio.io/grpc/lds/inbound/IP:PORT`; Envoy subscribes to every listener (a wildcard).
 *
 * `client_features` are not a signal on their own: Envoy and gRPC share them
 * (`envoy.lb.does_not_support_overprovisioning`). Explicit metadata always wins: a node that
 * says `GENERATOR` (anything), `ROUTER`, or has an Istio id of type `router` is what it says.
 */
import type { ProxyType } from './proxy-node.js';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

/** What the first discovery request of a stream shows (SotW or delta). */
export interface FirstRequest {
  typeUrl: string;
  /** resource_names (SotW) or resource_names_subscribe (delta). */
  names: readonly string[];
}

export interface NodeSignals {
  idType: string | undefined;
  generator: unknown;
  router: unknown;
  userAgentName: string | undefined;
}

/** Why a node is taken for a gRPC client, or undefined when it is not one. */
export type GrpcEvidence = 'metadata' | 'user-agent' | 'listener-names';

/** `host:port`, the name gRPC asks LDS for when a channel dials `xds:///host:port`. */
export function isClientListenerName(name: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(name);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}

const SERVER_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';

function isGrpcListenerName(name: string): boolean {
  return isClientListenerName(name) || name.startsWith(SERVER_LISTENER_PREFIX);
}

export function grpcEvidence(node: NodeSignals, first: FirstRequest | undefined): GrpcEvidence | undefined {
  if (node.generator === 'grpc' || node.idType === 'grpc') return 'metadata';
  // Said explicitly: another generator, or a gateway.
  if (node.generator !== undefined || node.router === true || node.idType === 'router') return undefined;
  if (/^grpc\b/i.test(node.userAgentName ?? '')) return 'user-agent';
  if (
    first !== undefined &&
    first.typeUrl === LDS &&
    first.names.length > 0 &&
    first.names.every(isGrpcListenerName)
  ) {
    return 'listener-names';
  }
  return undefined;
}

/** The proxy type for the signals: `grpc` with evidence, else what the id and metadata say. */
export function proxyTypeOf(node: NodeSignals, first: FirstRequest | undefined): ProxyType {
  if (grpcEvidence(node, first) !== undefined) return 'grpc';
  return node.idType === 'router' || node.router === true ? 'router' : 'sidecar';
}
