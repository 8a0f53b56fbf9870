/**
 * Puts a RateLimitService on the network: Envoy's RateLimitService/ShouldRateLimit over gRPC
 * (the hand-written ./grpc/fast-server.ts by default, @grpc/grpc-js on request), and an HTTP port with /metrics (Prometheus), /ready (also /healthcheck, envoyproxy/ratelimit's
 * name) and /config (the configuration in force, as JSON).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { errorMessage, isTrellisError, type ErrorCode } from '../core/errors.js';
import { answerMalformedRequests } from '../core/http-errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { rateLimitService } from '../protocol/grpc-services.js';
import { FastRateLimitGrpcServer } from './grpc/fast-server.js';
import type { RateLimitRequest, RateLimitService } from './service.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Which gRPC server carries ShouldRateLimit: both pass the same tests; `fast` costs ~3x less CPU per call. */
export type GrpcImpl = 'fast' | 'grpc-js';
export const GRPC_IMPLS: readonly GrpcImpl[] = ['fast', 'grpc-js'];

export interface RateLimitServerOptions {
  service: RateLimitService;
  /** Default 127.0.0.1:8081, envoyproxy/ratelimit's gRPC port. Port 0 picks a free one. */
  grpcAddress?: HostPort;
  /** Default 127.0.0.1:6070 (envoyproxy/ratelimit's debug port; 8080 is a gateway's); null for no HTTP port. */
  httpAddress?: HostPort | null;
  /** Default `fast`. */
  grpcImpl?: GrpcImpl;
  logger?: Logger;
}

export interface ListeningAddresses {
  grpc: HostPort;
  http: HostPort | undefined;
}

function hostForGrpc(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export class RateLimitServer {
  private readonly service: RateLimitService;
  private readonly logger: Logger;
  private readonly grpcAddress: HostPort;
  private readonly httpAddress: HostPort | null;
  private readonly grpcImpl: GrpcImpl;
  private grpc: Server | undefined;
  private fast: FastRateLimitGrpcServer | undefined;
  private http: http.Server | undefined;

  constructor(options: RateLimitServerOptions) {
    this.service = options.service;
    this.logger = options.logger ?? silentLogger;
    this.grpcAddress = options.grpcAddress ?? { host: '127.0.0.1', port: 8081 };
    this.httpAddress =
      options.httpAddress === undefined ? { host: '127.0.0.1', port: 6070 } : options.httpAddress;
    this.grpcImpl = options.grpcImpl ?? 'fast';
  }

  async start(): Promise<ListeningAddresses> {
    const port = this.grpcImpl === 'fast' ? await this.startFast() : await this.startGrpcJs();
    const addresses: ListeningAddresses = { grpc: { host: this.grpcAddress.host, port }, http: undefined };
    if (this.httpAddress) {
      const server = http.createServer((req, res) => this.handleHttp(req, res));
      answerMalformedRequests(server, 'text');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.httpAddress?.port, this.httpAddress?.host, () => resolve());
      });
      this.http = server;
      const a = server.address() as AddressInfo;
      addresses.http = { host: a.address, port: a.port };
    }
    return addresses;
  }

  private async startFast(): Promise<number> {
    const fast = new FastRateLimitGrpcServer({
      handler: (request) => this.service.shouldRateLimit(request),
      logger: this.logger,
    });
    const port = await fast.listen(this.grpcAddress.host, this.grpcAddress.port);
    this.fast = fast;
    return port;
  }

  private async startGrpcJs(): Promise<number> {
    const grpc = new Server();
    grpc.addService(rateLimitService(), {
      ShouldRateLimit: (call: ServerUnaryCall<object, object>, callback: sendUnaryData<object>) => {
        this.service.shouldRateLimit(call.request as RateLimitRequest).then(
          (response) => callback(null, response),
          (err: unknown) => {
            const code = isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT')
              ? status.INVALID_ARGUMENT
              : status.INTERNAL;
            if (code === status.INTERNAL)
              this.logger.error('ShouldRateLimit failed', { error: errorMessage(err) });
            callback({ code, details: errorMessage(err) });
          },
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      grpc.bindAsync(
        `${hostForGrpc(this.grpcAddress.host)}:${this.grpcAddress.port}`,
        ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      );
    });
    this.grpc = grpc;
    return port;
  }

  /** Lets in-flight calls finish (up to `graceMs`), then closes both ports. */
  async stop(graceMs = 2000): Promise<void> {
    const fast = this.fast;
    this.fast = undefined;
    await fast?.close(graceMs);
    const grpc = this.grpc;
    this.grpc = undefined;
    if (grpc) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpc.forceShutdown();
          resolve();
        }, graceMs);
        grpc.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const server = this.http;
    this.http = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** A throw escaping a request listener would end the service: it is a 500 and a log line. */
  private handleHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.routeHttp(req, res);
    } catch (err) {
      this.logger.error('HTTP request failed', { path: req.url, error: errorMessage(err) });
      if (res.headersSent) res.destroy();
      else textError(res, 500, 'TRELLIS_INTERNAL', errorMessage(err));
    }
  }

  private routeHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      textError(res, 405, 'TRELLIS_METHOD_NOT_ALLOWED', `method ${req.method} not allowed`);
      return;
    }
    switch (path) {
      case '/metrics': {
        this.service.metrics.keys = this.service.backend.size();
        const body = this.service.metrics.render();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(body);
        return;
      }
      case '/ready':
      case '/healthcheck': {
        const ready = this.service.isReady();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ready ? 'OK\n' : 'no rate limit configuration loaded yet\n');
        return;
      }
      case '/config': {
        const body = JSON.stringify({ domains: this.service.config() }, null, 2) + '\n';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found; try /metrics, /ready or /config\n');
    }
  }
}

function textError(res: http.ServerResponse, status: number, code: ErrorCode, message: string): void {
  const body = `${code}: ${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
