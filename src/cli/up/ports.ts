/**
 * Port allocation for the processes `up` starts. Sidecars and the gateway are in-process and
 * bind what they are given, but an app is another process, and the derived Sidecar resources
 * must name every inbound port before anything starts; so ports are chosen up front by probing.
 *
 * From `base` upward (skipping ports that are taken or reserved: the mesh's service ports, which
 * name outbound listeners, and the gateway's), or with base 0 from the OS (`listen(0)`), which
 * is what tests use so they never collide with a developer's running mesh.
 */
import net from 'node:net';
import { TrellisError } from '../../core/errors.js';

export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function osPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class PortAllocator {
  private next: number;
  private readonly given = new Set<number>();

  constructor(
    private readonly base: number,
    private readonly reserved: ReadonlySet<number>,
    private readonly host = '127.0.0.1',
  ) {
    this.next = base;
  }

  async allocate(): Promise<number> {
    if (this.base === 0) {
      for (;;) {
        const p = await osPort(this.host);
        if (!this.given.has(p) && !this.reserved.has(p)) return this.take(p);
      }
    }
    while (this.next <= 65535) {
      const p = this.next++;
      if (this.given.has(p) || this.reserved.has(p)) continue;
      if (await portIsFree(this.host, p)) return this.take(p);
    }
    throw new TrellisError(
      'TRELLIS_IO',
      `no free port from ${this.base} up to 65535; pass --base-port with a lower value, or 0 for any free ports`,
    );
  }

  private take(p: number): number {
    this.given.add(p);
    return p;
  }
}
