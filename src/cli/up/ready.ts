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

/**
 * Polls until every port accepts connections (true) or `cancelled()` says the process it
 * waits for is gone (false). No deadline: a slow app is waited for, a dead one cancels.
 */
export async function waitForPorts(
  host: string,
  ports: readonly number[],
  cancelled: () => boolean,
  intervalMs = 100,
): Promise<boolean> {
  for (const port of ports) {
    while (!(await canConnect(host, port))) {
      if (cancelled()) return false;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  return !cancelled();
}
