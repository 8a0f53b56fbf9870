/**
 * Counts gRPC messages in a body stream (length-prefixed: a 1-byte flag, a 4-byte big-endian
 * length, then the message), across chunk boundaries, as Envoy's gRPC stats filter does for
 * Istio's istio_request_messages_total / istio_response_messages_total. A message counts when its
 * 5-byte prefix is complete.
 */
export class GrpcMessageCounter {
  count = 0;
  /** Bytes of the current message's body still to skip. */
  private remaining = 0;
  /** Bytes of a prefix split across chunks. */
  private readonly prefix = Buffer.alloc(5);
  private prefixHave = 0;

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - i);
        this.remaining -= skip;
        i += skip;
        continue;
      }
      const take = Math.min(5 - this.prefixHave, chunk.length - i);
      for (let k = 0; k < take; k++) this.prefix[this.prefixHave + k] = chunk[i + k]!;
      this.prefixHave += take;
      i += take;
      if (this.prefixHave === 5) {
        this.count++;
        this.remaining = this.prefix.readUInt32BE(1);
        this.prefixHave = 0;
      }
    }
  }
}

export function isGrpcContentType(value: string | string[] | undefined): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== undefined && v.startsWith('application/grpc');
}
