/**
 * A sidecar as `trellis up` runs it: in this process (the default: one event loop for every
 * proxy), or, when its ProxyConfig asks for more than one worker or for environment variables,
 * as `trellis proxy --concurrency N` runs: the primary (xDS, admin) here and N worker processes
 * with that environment serving its listeners (proxy/workers). Both answer what `up` asks of a
 * sidecar: its admin and outbound ports, its config snapshot, start and stop.
 */
import type { ProxyConfigSnapshot } from '../../proxy/model/config.js';
import { TrellisProxy, type ProxyOptions } from '../../proxy/proxy.js';
import { ProxyPrimary } from '../../proxy/workers/primary.js';
import { TRELLIS_BIN } from '../proxy-concurrency.js';

export interface SidecarProxy {
  start(): Promise<void>;
  stop(graceMs: number): Promise<void>;
  readonly adminPort: number;
  readonly outboundPort: number;
  snapshot(): ProxyConfigSnapshot;
  /** Worker processes; 0 when the proxy runs in this process. */
  readonly workers: number;
}

export function inProcessSidecar(options: ProxyOptions): SidecarProxy {
  const proxy = new TrellisProxy(options);
  return {
    start: () => proxy.start(),
    stop: (graceMs) => proxy.stop(graceMs),
    get adminPort() {
      return proxy.adminPort;
    },
    get outboundPort() {
      return proxy.listeners.ports.outbound;
    },
    snapshot: () => proxy.snapshot(),
    workers: 0,
  };
}

/**
 * The `trellis proxy` arguments a worker re-reads its options from: the same node and ports as
 * the primary's options (a worker takes its certificate and config from the primary, so no
 * credential file). Capture ports must be fixed: every worker binds the same ones.
 */
export function workerArguments(options: ProxyOptions): string[] {
  const b = options.bootstrap;
  const labels = Object.entries(b.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    '--xds-address',
    typeof options.xds === 'string' ? options.xds : options.xds.join(','),
    '--id',
    b.nodeId,
    '--mode',
    b.mode,
    '--namespace',
    b.namespace,
    '--workload',
    b.workloadName,
    ...(labels !== '' ? ['--labels', labels] : []),
    '--cluster',
    b.cluster,
    '--instance-ips',
    b.instanceIps.join(','),
    '--bind-address',
    options.bindAddress,
    '--outbound-port',
    String(options.outboundPort),
    '--inbound-port',
    String(options.inboundPort),
    ...(options.bindListeners.length > 0 ? ['--bind-listeners', options.bindListeners.join(',')] : []),
    ...(options.originalDestination ? ['--original-dst'] : []),
  ];
}

export function workerSidecar(
  options: ProxyOptions,
  concurrency: number,
  env: Readonly<Record<string, string>>,
): SidecarProxy {
  const primary = new ProxyPrimary({
    proxy: options,
    concurrency,
    exec: { file: TRELLIS_BIN, args: ['proxy', ...workerArguments(options)] },
    env,
  });
  return {
    start: () => primary.start(),
    stop: (graceMs) => primary.stop(graceMs),
    get adminPort() {
      return primary.adminPort;
    },
    get outboundPort() {
      return primary.ports.outbound;
    },
    snapshot: () => primary.snapshot(),
    workers: concurrency,
  };
}
