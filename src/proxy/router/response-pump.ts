/**
 * The response layer: sends the upstream response's head downstream (with
 * x-envoy-upstream-service-time and the route's response header mutations) and pumps its body,
 * with backpressure both ways, ending with the upstream's trailers. A body cut short resets the
 * downstream stream and is flagged with why (response-flags.ts).
 */
import { GrpcMessageCounter, isGrpcContentType } from '../policy/grpc-messages.js';
import { flagResponseCut, type CutCause } from '../connection-manager/response-flags.js';
import type { Downstream } from '../connection-manager/downstream.js';
import { first, forwardableResponseHeaders } from '../connection-manager/headers.js';
import type { StreamIdleTimer } from '../connection-manager/stream-idle-timeout.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import {
  DISCARD_BODY,
  type OutgoingHeaders,
  type ResponseBodyReader,
  type UpstreamResponse,
} from '../upstream/attempt.js';

export async function streamResponse(
  res: UpstreamResponse,
  serviceTimeMs: number,
  finishHeaders: (headers: OutgoingHeaders) => void,
  ds: Downstream,
  info: StreamInfo,
  idle: StreamIdleTimer | undefined,
  /** Why the response was cut short, if the client is still there. */
  cutCause: () => CutCause,
): Promise<void> {
  const headers: OutgoingHeaders = forwardableResponseHeaders(res.headers);
  headers['x-envoy-upstream-service-time'] = String(serviceTimeMs);
  finishHeaders(headers);
  info.status = res.status;
  info.upstreamServiceTimeMs = serviceTimeMs;
  const grpcInHeaders = first(res.headers['grpc-status']);
  if (ds.aborted) {
    res.abort();
    return;
  }
  if (res.endStream) {
    res.read(DISCARD_BODY);
    if (grpcInHeaders !== undefined) info.grpcStatus = grpcInHeaders;
    ds.respondHeadersOnly(res.status, headers);
    return;
  }
  ds.respond(res.status, headers);
  idle?.touch();
  const pump = new ResponsePump(res, ds, info, grpcInHeaders, cutCause, idle);
  // istio_response_messages_total: gRPC responses have their messages counted.
  if (isGrpcContentType(res.headers['content-type'])) {
    pump.grpcMessages = new GrpcMessageCounter();
    info.responseMessages = 0;
  }
  res.read(pump);
  // A small body is often all here already (it came in the same read as the head): the pump
  // finished inside read(), and the promise and abort hooks below are not needed.
  if (pump.finished) return;
  await new Promise<void>((resolve) => {
    pump.resolve = resolve;
    const cut = () => {
      res.abort();
      pump.error();
    };
    ds.onAbort(cut);
    idle?.whenExpired(cut);
  });
}

/** Copies an upstream response body to the downstream, with backpressure both ways. */
class ResponsePump implements ResponseBodyReader {
  finished = false;
  private waitingDrain = false;
  /** Set once streamResponse waits for the rest of the body. */
  resolve: () => void = noop;
  grpcMessages: GrpcMessageCounter | undefined;

  constructor(
    private readonly res: UpstreamResponse,
    private readonly ds: Downstream,
    private readonly info: StreamInfo,
    private readonly grpcInHeaders: string | undefined,
    private readonly cutCause: () => CutCause,
    private readonly idle: StreamIdleTimer | undefined,
  ) {}

  data(chunk: Buffer): void {
    this.info.bytesSent += chunk.length;
    if (this.grpcMessages) {
      this.grpcMessages.feed(chunk);
      this.info.responseMessages = this.grpcMessages.count;
    }
    this.idle?.touch();
    // Chunks already read keep coming after pause(): one drain wait is enough.
    if (!this.ds.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.res.pause();
      this.ds.onceDrain(this.drained);
    }
  }

  private readonly drained = (): void => {
    this.waitingDrain = false;
    this.res.resume();
  };

  end(trailers: OutgoingHeaders | undefined): void {
    if (this.finished) return;
    this.finished = true;
    const grpc = (trailers && first(trailers['grpc-status'])) ?? this.grpcInHeaders;
    if (grpc !== undefined) this.info.grpcStatus = grpc;
    this.ds.end(trailers);
    this.resolve();
  }

  error(): void {
    if (this.finished) return;
    this.finished = true;
    const { ds } = this;
    if (!ds.aborted) ds.reset();
    // The route timeout also covers the response body (Envoy): cut short, flagged UT; the
    // stream idle timeout, SI.
    flagResponseCut(this.info, ds.aborted ? 'downstream-disconnect' : this.cutCause());
    this.resolve();
  }
}

const noop = (): void => undefined;
