/**
 * The messages between the primary of `trellis proxy --concurrency N` and its data-plane workers
 * (node:cluster IPC, JSON).
 *
 *   worker                                  primary
 *   hello                          ->                       after installing its handler
 *                                  <-  certificate          the workload certificate, when the
 *                                                           primary has one, and each rotation
 *                                  <-  config (full)        every type accepted so far
 *   started {ports}                ->                       listeners bound
 *   applied {seq, ready, versions} ->                       after every config it applied
 *                                  <-  config (changed)     each accepted xDS update
 *                                  <-  collect {id, what}   /stats/prometheus, /clusters, /stats
 *   collected {id, ...}            ->
 *                                  <-  drain {graceMs}      SIGTERM/SIGINT of the primary
 *
 * Config travels as the resources the primary accepted, exactly as received (type URL, name,
 * version and the serialized Any's bytes), never as converted objects: those hold RE2 regexes
 * and closures, and each worker converts the bytes with the same code the primary used
 * (config-replica.ts). A type is sent whole, and only when it changed.
 */
import type { IstioStatsData } from '../admin/stats.js';
import type { XdsShortType } from '../model/config.js';

/** One accepted resource; `value` is the Any's bytes in base64. */
export interface WireResource {
  name: string;
  typeUrl: string;
  value: string;
}

/** Every resource of one type, as the primary holds it now. */
export interface WireType {
  type: XdsShortType;
  version: string;
  resources: WireResource[];
}

export type CollectWhat = 'istio' | 'clusters' | 'clusterStats';

/**
 * The workload certificate (SDS `default` and `ROOTCA`) as the primary's source holds it, dates
 * as ISO strings. The private key crosses the IPC channel to the workers, processes of the same
 * proxy on the same host, as Envoy's worker threads share it; it never leaves the host.
 */
export interface WireCertificate {
  certChainPem: string;
  privateKeyPem: string;
  rootCertsPem: string;
  identity: string;
  notBefore: string;
  notAfter: string;
}

export type PrimaryMessage =
  /** `seq` grows with every update the primary accepts; a worker echoes it in `applied`. */
  | { kind: 'trellis.config'; seq: number; types: WireType[] }
  | { kind: 'trellis.collect'; id: number; what: CollectWhat }
  | { kind: 'trellis.certificate'; certificate: WireCertificate }
  | { kind: 'trellis.drain'; graceMs: number };

export type WorkerMessage =
  | { kind: 'trellis.hello' }
  | { kind: 'trellis.started'; ports: { outbound: number; inbound: number } }
  | { kind: 'trellis.failed'; error: string }
  | { kind: 'trellis.applied'; seq: number; ready: boolean; versions: Record<XdsShortType, string> }
  | { kind: 'trellis.collected'; id: number; istio?: IstioStatsData; text?: string };

const PRIMARY_KINDS = new Set(['trellis.config', 'trellis.collect', 'trellis.certificate', 'trellis.drain']);
const WORKER_KINDS = new Set([
  'trellis.hello',
  'trellis.started',
  'trellis.failed',
  'trellis.applied',
  'trellis.collected',
]);

function kindOf(m: unknown): unknown {
  return typeof m === 'object' && m !== null ? (m as { kind?: unknown }).kind : undefined;
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return PRIMARY_KINDS.has(kindOf(m) as string);
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return WORKER_KINDS.has(kindOf(m) as string);
}
