/**
 * A gRPC echo service for end-to-end tests, defined without a .proto: JSON-encoded messages on
 * the method `/trellis.test.Echo/Call`. Each backend answers with its name and can be told to
 * fail or delay through the request, so tests can drive retries, faults and outlier detection.
 */
import * as grpc from '@grpc/grpc-js';

export interface EchoRequest {
  /** Fail this many calls (per backend, counted per `failKey`) with `failCode` before succeeding. */
  failTimes?: number;
  failKey?: string;
  failCode?: number;
  /** Sleep before answering. */
  delayMs?: number;
}

export interface EchoReply {
  backend: string;
  /** Request metadata as seen by the backend. */
  headers: Record<string, string>;
}

const json = {
  serialize: (v: object) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as object,
};

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Call: {
    path: '/trellis.test.Echo/Call',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: 'Call',
  },
};

export interface EchoBackend {
  name: string;
  port: number;
  calls: number;
  /** When set, every call fails with this gRPC status code. */
  failAll: grpc.status | undefined;
  close(): Promise<void>;
}

export async function startEchoBackend(name: string): Promise<EchoBackend> {
  const server = new grpc.Server();
  const failures = new Map<string, number>();
  const backend: EchoBackend = {
    name,
    port: 0,
    calls: 0,
    failAll: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 500).unref();
      }),
  };
  server.addService(ECHO_SERVICE, {
    Call: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      backend.calls++;
      const req = call.request;
      const reply = () => {
        if (backend.failAll !== undefined) {
          callback({ code: backend.failAll, details: `${name} is failing` });
          return;
        }
        const key = req.failKey ?? '';
        const failed = failures.get(key) ?? 0;
        if ((req.failTimes ?? 0) > failed) {
          failures.set(key, failed + 1);
          callback({
            code: req.failCode ?? grpc.status.UNAVAILABLE,
            details: `${name} injected failure ${failed + 1}`,
          });
          return;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
        callback(null, { backend: name, headers });
      };
      if (req.delayMs) setTimeout(reply, req.delayMs);
      else reply();
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  return backend;
}

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo') as unknown as new (
  target: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => grpc.Client & {
  Call(
    req: EchoRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientUnaryCall;
};

export type EchoClientInstance = InstanceType<typeof EchoClient>;

export interface CallResult {
  backend?: string;
  code: grpc.status;
  details?: string;
  elapsedMs: number;
}

export function callEcho(
  client: EchoClientInstance,
  req: EchoRequest = {},
  headers: Record<string, string> = {},
  deadlineMs = 5000,
): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const start = performance.now();
  return new Promise((resolve) => {
    client.Call(req, md, { deadline: Date.now() + deadlineMs }, (err, reply) => {
      const elapsedMs = performance.now() - start;
      if (err) resolve({ code: err.code, details: err.details, elapsedMs });
      else resolve({ code: grpc.status.OK, backend: reply?.backend ?? '', elapsedMs });
    });
  });
}
