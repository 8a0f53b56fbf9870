import type net from 'node:net';

/**
 * Binds a server (net, http, http2 or tls: they share net.Server's listen) and resolves with
 * the port it got (port 0 picks a free one); rejects with the bind error, e.g. EADDRINUSE.
 */
export async function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return typeof addr === 'object' && addr !== null ? addr.port : port;
}
