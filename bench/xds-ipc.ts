/** Messages between bench/xds.ts (the control plane) and bench/xds-proxies.ts (the simulator). */

export interface AckEvent {
  proxy: number;
  /** CDS, EDS, LDS or RDS. */
  type: string;
  version: string;
  /** performance.timeOrigin + performance.now() in the simulator when the ACK was written. */
  at: number;
  /** Resource payload bytes in the response being ACKed. */
  bytes: number;
  resources: number;
}

export type ChildMessage =
  | { t: 'acks'; acks: AckEvent[] }
  | { t: 'connecting'; at: number }
  | { t: 'started'; channels: number; ms: number }
  | { t: 'cpu'; user: number; system: number; rss: number }
  | { t: 'error'; proxy: number; message: string };

export type ParentMessage = { t: 'cpu' } | { t: 'stop' };
