/**
 * Hand-written protobuf encoding of DiscoveryResponse, the one message whose encoding cost grows
 * with the mesh: a response is mostly a list of already-encoded resources, shared by every proxy
 * that receives the same set. Encoding that list once per set and prepending only the small
 * per-proxy fields (version, nonce) replaces a protobufjs fromObject+encode of thousands of Any
 * messages per proxy per push. Field numbers are from envoy/service/discovery/v3/discovery.proto
 * (DiscoveryResponse: version_info=1, resources=2, type_url=4, nonce=5; Any: type_url=1,
 * value=2); a test decodes the result with protobufjs to keep this honest.
 */

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field: tag byte (field << 3 | 2), length, bytes. */
function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

function writeField(buf: Buffer, pos: number, field: number, bytes: Uint8Array): number {
  buf[pos++] = (field << 3) | 2;
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** `repeated google.protobuf.Any resources = 2`, for a list of encoded resources of one type. */
export function encodeResourceList(typeUrl: string, values: readonly Uint8Array[]): Buffer {
  const url = Buffer.from(typeUrl, 'utf8');
  let total = 0;
  const anySizes = values.map((v) => {
    const size = fieldSize(url.length) + fieldSize(v.length);
    total += fieldSize(size);
    return size;
  });
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  values.forEach((v, i) => {
    buf[pos++] = (2 << 3) | 2;
    pos = writeVarint(buf, pos, anySizes[i] as number);
    pos = writeField(buf, pos, 1, url);
    pos = writeField(buf, pos, 2, v);
  });
  return buf;
}

/** A whole DiscoveryResponse: the shared resource list plus this proxy's version and nonce. */
export function encodeDiscoveryResponse(
  resourceList: Buffer,
  typeUrl: string,
  version: string,
  nonce: string,
): Buffer {
  const v = Buffer.from(version, 'utf8');
  const t = Buffer.from(typeUrl, 'utf8');
  const n = Buffer.from(nonce, 'utf8');
  const headerSize =
    (v.length ? fieldSize(v.length) : 0) + fieldSize(t.length) + (n.length ? fieldSize(n.length) : 0);
  const buf = Buffer.allocUnsafe(headerSize + resourceList.length);
  let pos = 0;
  if (v.length) pos = writeField(buf, pos, 1, v);
  pos = writeField(buf, pos, 4, t);
  if (n.length) pos = writeField(buf, pos, 5, n);
  resourceList.copy(buf, pos);
  return buf;
}
