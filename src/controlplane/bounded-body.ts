/**
 * Reads a fetch Response's body as UTF-8 text, at most `maxBytes` bytes: a declared length over
 * the limit is refused before reading, and a body that grows past it is abandoned as it streams
 * (`abort` cancels the request), so a peer cannot make the control plane buffer without bound.
 */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`answer larger than ${maxBytes} bytes (abandoned)`);
  }
}

export async function readBoundedText(res: Response, maxBytes: number, abort: () => void): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes || res.body === null) {
    abort();
    if (res.body === null) return '';
    throw new BodyTooLargeError(maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      abort();
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** At most `max` characters of a peer's text for an error message: control characters as spaces. */
export function snippet(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
