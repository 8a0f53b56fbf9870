/**
 * The contract of one upstream attempt, as the router's upstream path sees it: the response
 * head, a callback reader for its body, and the two ways an attempt fails (connect, reset). The
 * codecs (src/proxy/codec/http1, node:http2 in upstream-request.ts) implement it; they import
 * this file, and nothing here imports a codec.
 */
export type OutgoingHeaders = Record<string, string | string[]>;

/** Receives a response body. */
export interface ResponseBodyReader {
  data(chunk: Buffer): void;
  /** The body is complete; its trailers when there were any. */
  end(trailers: OutgoingHeaders | undefined): void;
  /** The body was cut short (reset, protocol error, abort). */
  error(): void;
}

export interface UpstreamResponse {
  status: number;
  headers: OutgoingHeaders;
  /** The headers ended the stream: no body, no trailers (gRPC trailers-only). */
  endStream: boolean;
  /** Starts delivering the body to `reader` (what already arrived, at once); call once. */
  read(reader: ResponseBodyReader): void;
  /** Body backpressure. */
  pause(): void;
  resume(): void;
  /** Drops the response (a retry or a timeout won). */
  abort(): void;
  /** Runs `fn` once the response is over: body complete, cut short or aborted. */
  onDone(fn: () => void): void;
}

/** A reader that drops the body (mirrors, retried responses). */
export const DISCARD_BODY: ResponseBodyReader = {
  data: () => undefined,
  end: () => undefined,
  error: () => undefined,
};

/**
 * How an attempt failed: the connection could not be made (`connect`, Envoy's UF), the stream
 * was reset after it was (`reset`, UR), or an HTTP/2 upstream refused the stream
 * (REFUSED_STREAM: it did no work on it). `requestStarted`: the request head had been handed to
 * the connection, which decides `reset-before-request` retries.
 */
export class UpstreamError extends Error {
  /** A TLS handshake failure's reason in Envoy's wording (%UPSTREAM_TRANSPORT_FAILURE_REASON%). */
  transportFailureReason?: string;

  constructor(
    readonly kind: 'connect' | 'reset' | 'refused-stream',
    message: string,
    readonly requestStarted: boolean = kind !== 'connect',
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface UpstreamAttempt {
  response: Promise<UpstreamResponse>;
  /** Stops feeding this attempt the request body. */
  detachBody(): void;
  /** Cancels the attempt before or after headers. */
  cancel(): void;
}
