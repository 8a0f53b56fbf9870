/**
 * A TCP relay that delays every chunk by a fixed time in each direction, keeping order: a control
 * plane `delayMs` away from its proxies, as across a network, while both run in this process.
 * An xDS round trip (a proxy's EDS request after a CDS response) then takes 2 x delayMs, which
 * is what the ADS push order and cluster warming have to cover.
 */
import * as net from 'node:net';

export interface LatencyRelay {
  port: number;
  close(): Promise<void>;
}

export async function startLatencyRelay(targetPort: number, delayMs: number): Promise<LatencyRelay> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  // Timers of one duration fire in the order they were set, so chunks keep their order.
  const relay = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('close', () => setTimeout(() => to.destroy(), delayMs));
  };
  const server = net.createServer((downstream) => {
    track(downstream);
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(upstream);
    relay(downstream, upstream);
    relay(upstream, downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
