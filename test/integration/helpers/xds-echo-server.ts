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

export const ECHO_CALL = '/trellis.test.Echo/Call';
/** A second method, so a policy on one path can be seen to leave the other alone. */
export const ECHO_OTHER = '/trellis.test.Echo/Other';

const ECHO_WITH_OTHER: grpc.ServiceDefinition = {
  ...ECHO_SERVICE,
  Other: { ...ECHO_SERVICE.Call!, path: ECHO_OTHER, originalName: 'Other' },
};

/**
 * A unary echo call to any method path (the methods above or anything else a caller may try),
 * with request metadata; resolves with the status code and, on success, the backend's name.
 */
export function callPath(
  client: grpc.Client,
  path: string,
  headers: Record<string, string> = {},
  deadlineMs = 3000,
): Promise<{ code: grpc.status; details?: string; backend?: string }> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const call = ECHO_SERVICE.Call!;
  return new Promise((resolve) => {
    client.makeUnaryRequest<EchoRequest, EchoReply>(
      path,
      call.requestSerialize,
      call.responseDeserialize,
      {},
      md,
      { deadline: Date.now() + deadlineMs },
      (err, reply) =>
        resolve(
          err
            ? { code: err.code, details: err.details }
            : { code: grpc.status.OK, backend: reply?.backend ?? '' },
        ),
    );
  });
}

export interface XdsEchoServer {
  /** The port it binds (all interfaces: XdsServer listens on the port alone). */
  port: number;
  /** Caller identity per call: the URI SAN of its certificate, '' for a plaintext call. */
  peers: string[];
  /** The method path of each call that reached a handler. */
  paths: string[];
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
  /** Resolve once it serves (default), or right after binding (for servers that must not serve). */
  waitForServing?: boolean;
}): Promise<XdsEchoServer> {
  const server = new grpcXds.XdsServer({
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': options.bootstrap,
    drainGraceTimeMs: 100,
  });
  const peers: string[] = [];
  const paths: string[] = [];
  const handler =
    (path: string) =>
    (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      peers.push(uriSan(call));
      paths.push(path);
      callback(null, { backend: options.name, headers: {} });
    };
  server.addService(ECHO_WITH_OTHER, { Call: handler(ECHO_CALL), Other: handler(ECHO_OTHER) });
  const close = () => server.forceShutdown();
  const bound = `${options.address ?? '127.0.0.1'}:${options.port}`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // XdsServerCredentials: the Listener's transport socket decides; plaintext when it has none.
  const creds = new grpcXds.XdsServerCredentials(grpc.ServerCredentials.createInsecure());
  const serving = new Promise<void>((resolve, reject) => {
    server.bindAsync(bound, creds, (err) => (err ? reject(err) : resolve()));
  });
  if (options.waitForServing === false) {
    serving.catch(() => undefined);
  } else {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${options.name}: not serving ${bound} after ${timeoutMs} ms (no Listener?)`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([serving, timeout]);
    } catch (e) {
      close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
  return { port: options.port, peers, paths, close };
}
