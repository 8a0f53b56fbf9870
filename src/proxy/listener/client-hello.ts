/**
 * What Envoy's TLS inspector reads before a filter chain is chosen: whether a connection
 * starts with a TLS ClientHello and, if so, its SNI server name and ALPN protocols
 * (RFC 8446 4.1.2, RFC 6066 3, RFC 7301 3.1). Pure: bytes in, answer out, no sockets; the
 * caller feeds what it has read so far and is told when more is needed.
 */

export type ClientHelloResult =
  /** Not enough bytes yet to decide. */
  | { kind: 'need-more' }
  /** Not TLS: the first byte is not a handshake record (plain text). */
  | { kind: 'plaintext' }
  /** TLS; serverName lower case when the client sent SNI. Malformed hellos count as TLS without SNI. */
  | { kind: 'tls'; serverName?: string; alpn: string[] };

/** Envoy's inspector gives up after 64 KiB; a ClientHello is a few hundred bytes in practice. */
export const MAX_CLIENT_HELLO = 64 * 1024;

const HANDSHAKE_RECORD = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

const TLS_NO_SNI: ClientHelloResult = { kind: 'tls', alpn: [] };

/**
 * Inspects the first bytes of a connection. A ClientHello may span several records; their
 * handshake fragments are joined until the whole message is there.
 */
export function inspectClientHello(data: Buffer): ClientHelloResult {
  if (data.length === 0) return { kind: 'need-more' };
  if (data[0] !== HANDSHAKE_RECORD) return { kind: 'plaintext' };
  // Reassemble handshake bytes from consecutive handshake records.
  const fragments: Buffer[] = [];
  let have = 0;
  let offset = 0;
  let needed = -1;
  while (needed < 0 || have < needed) {
    if (offset + 5 > data.length) return data.length >= MAX_CLIENT_HELLO ? TLS_NO_SNI : { kind: 'need-more' };
    if (data[offset] !== HANDSHAKE_RECORD || data[offset + 1] !== 0x03) return TLS_NO_SNI;
    const length = data.readUInt16BE(offset + 3);
    if (offset + 5 + length > data.length)
      return data.length >= MAX_CLIENT_HELLO ? TLS_NO_SNI : { kind: 'need-more' };
    fragments.push(data.subarray(offset + 5, offset + 5 + length));
    have += length;
    offset += 5 + length;
    if (needed < 0 && have >= 4) {
      const head = Buffer.concat(fragments);
      if (head[0] !== CLIENT_HELLO) return TLS_NO_SNI;
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO) return TLS_NO_SNI;
    }
  }
  const hello = Buffer.concat(fragments).subarray(4, needed);
  return parseHello(hello) ?? TLS_NO_SNI;
}

/** The ClientHello body: version, random, session id, ciphers, compression, extensions. */
function parseHello(b: Buffer): ClientHelloResult | undefined {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > b.length) return undefined;
  p += 1 + b[p]!; // session id
  if (p + 2 > b.length) return undefined;
  p += 2 + b.readUInt16BE(p); // cipher suites
  if (p + 1 > b.length) return undefined;
  p += 1 + b[p]!; // compression methods
  if (p === b.length) return TLS_NO_SNI; // no extensions at all
  if (p + 2 > b.length) return undefined;
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return undefined;
  p += 2;
  let serverName: string | undefined;
  let alpn: string[] = [];
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const length = b.readUInt16BE(p + 2);
    if (p + 4 + length > end) return undefined;
    const body = b.subarray(p + 4, p + 4 + length);
    if (type === EXT_SERVER_NAME) serverName = readServerName(body);
    else if (type === EXT_ALPN) alpn = readAlpn(body);
    p += 4 + length;
  }
  return serverName === undefined ? { kind: 'tls', alpn } : { kind: 'tls', serverName, alpn };
}

/** server_name_list: the first host_name entry (the only kind defined). */
function readServerName(b: Buffer): string | undefined {
  if (b.length < 2) return undefined;
  const end = Math.min(b.length, 2 + b.readUInt16BE(0));
  let p = 2;
  while (p + 3 <= end) {
    const type = b[p]!;
    const length = b.readUInt16BE(p + 1);
    if (p + 3 + length > end) return undefined;
    if (type === 0)
      return b
        .subarray(p + 3, p + 3 + length)
        .toString('ascii')
        .toLowerCase();
    p += 3 + length;
  }
  return undefined;
}

function readAlpn(b: Buffer): string[] {
  const out: string[] = [];
  if (b.length < 2) return out;
  const end = Math.min(b.length, 2 + b.readUInt16BE(0));
  let p = 2;
  while (p < end) {
    const length = b[p]!;
    if (p + 1 + length > end) break;
    out.push(b.subarray(p + 1, p + 1 + length).toString('ascii'));
    p += 1 + length;
  }
  return out;
}
