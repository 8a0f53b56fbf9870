/**
 * An xDS-enabled gRPC server (gRFC A36, grpc-js-xds XdsServer) serving the echo service: it
 * serves a port only once the control plane sent the Listener for it, with the transport
 * security (A29) and RBAC filters (A41) that Listener says. It records the identity (URI SAN)
 * of each caller's certificate when the connection has one.
 */
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { ECHO_SERVICE, type EchoReply, type EchoRequest } from './echo-grpc.js';

grpcXds.register();

export interface XdsEchoServer {
  /** The port it binds (all interfaces: XdsServer listens on the port alone). */
  port: number;
  /** Caller identity per call: the URI SAN of its certificate, '' for a plaintext call. */
  peers: string[];
  close(): void;
}

/** A port free on 127.0.0.1 right now (XdsServer does not take port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function uriSan(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>): string {
  const san = call.getAuthContext()?.sslPeerCertificate?.subjectaltname ?? '';
  const uri = san.split(', ').find((s) => s.startsWith('URI:'));
  return uri === undefined ? '' : uri.slice('URI:'.length);
}

/**
 * Starts the server and binds `address:port`; resolves when it serves (its Listener arrived),
 * rejects after `timeoutMs` otherwise.
 */
export async function startXdsEchoServer(options: {
  name: string;
  bootstrap: string;
  port: number;
  address?: string;
  timeoutMs?: number;
}): Promise<XdsEchoServer> {
  const server = new grpcXds.XdsServer({
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': options.bootstrap,
    drainGraceTimeMs: 100,
  });
  const peers: string[] = [];
  server.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      peers.push(uriSan(call));
      callback(null, { backend: options.name, headers: {} });
    },
  });
  const close = () => server.forceShutdown();
  const bound = `${options.address ?? '127.0.0.1'}:${options.port}`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name}: not serving ${bound} after ${timeoutMs} ms (no Listener?)`)),
        timeoutMs,
      );
      // XdsServerCredentials: the Listener's transport socket decides; plaintext when it has none.
      server.bindAsync(
        bound,
        new grpcXds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
        (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      );
    });
  } catch (e) {
    close();
    throw e;
  }
  return { port: options.port, peers, close };
}
