import type net from 'node:net';

/**
 * Binds a server (net, http, http2 or tls: they share net.Server's listen) and resolves with
 * the port it got (port 0 picks a free one); rejects with the bind error, e.g. EADDRINUSE.
 *
 * Once bound, the server keeps an 'error' listener: node reports a failed accept (EMFILE when
 * the process is out of file descriptors) as a server 'error', which would otherwise crash the
 * process. `onError` hears them (default: a process warning at most every 10 s per server).
 */
export async function listenOn(
  server: net.Server,
  host: string,
  port: number,
  onError?: (err: Error) => void,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let lastWarning = 0;
  server.on(
    'error',
    onError ??
      ((err: Error) => {
        const now = Date.now();
        if (now - lastWarning < 10_000) return;
        lastWarning = now;
        process.emitWarning(`${host}:${port}: ${err.message}`, 'TrellisListenerWarning');
      }),
  );
  const addr = server.address();
  return typeof addr === 'object' && addr !== null ? addr.port : port;
}
