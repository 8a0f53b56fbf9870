import net from 'node:net';

/** Whether something accepts TCP connections on host:port right now. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type PortsWait =
  | { result: 'ready' }
  | { result: 'cancelled' }
  /** `port` is the first one that never accepted a connection. */
  | { result: 'timeout'; port: number };

/**
 * Polls until every port accepts connections, `cancelled()` says the process it waits for is
 * gone, or `expired()` says it has waited long enough (checked between polls).
 */
export async function waitForPorts(
  host: string,
  ports: readonly number[],
  cancelled: () => boolean,
  expired: () => boolean = () => false,
  intervalMs = 100,
): Promise<PortsWait> {
  for (const port of ports) {
    while (!(await canConnect(host, port))) {
      if (cancelled()) return { result: 'cancelled' };
      if (expired()) return { result: 'timeout', port };
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  return cancelled() ? { result: 'cancelled' } : { result: 'ready' };
}

/**
 * What `up` says about an app that never listened: where it should have, how long it was given,
 * what it printed, and what to change.
 */
export function notListeningMessage(p: {
  name: string;
  port: number;
  /** The service port the app serves, when it differs from where it must listen. */
  servicePort?: number;
  envName: string;
  timeoutMs: number;
  output: readonly string[];
}): string {
  const where =
    p.servicePort !== undefined && p.servicePort !== p.port
      ? `${p.port} (${p.envName}; service port ${p.servicePort})`
      : `${p.port} (${p.envName})`;
  const printed =
    p.output.length === 0
      ? 'it printed nothing'
      : `it printed:\n${p.output.map((l) => `    ${l}`).join('\n')}`;
  return [
    `${p.name} did not listen on ${where} within ${formatSeconds(p.timeoutMs)}; ${printed}`,
    `  Make it listen on $${p.envName} (and $BIND_ADDRESS), or give it longer with --ready-timeout.`,
  ].join('\n');
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
