/**
 * Which admin address the control plane will dial for a proxy (graph scrapes, explain). A proxy
 * reports ADMIN_ADDRESS in node metadata, and any xDS client can write anything there, so it is
 * accepted only as IP:PORT, and only at the machine the proxy's xDS stream comes from: the
 * stream's own peer IP, or a loopback IP when the stream itself comes over loopback (or from a
 * peer the server could not name). An unspecified IP (`0.0.0.0`, `::`: every interface) means the
 * peer's IP. Anything else is treated as no admin address, with the reason.
 */
import net from 'node:net';

export type AdminTarget = { ok: true; base: string } | { ok: false; reason: string };

/** `IP:PORT` or `[IPv6]:PORT`; undefined for anything else (host names, paths, bad ports). */
export function parseIpPort(address: string): { ip: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const ip = m[1]!;
  const port = Number(m[2]);
  if (net.isIP(ip) === 0 || port < 1 || port > 65535) return undefined;
  return { ip, port };
}

/** The IP of an xDS stream's peer (`1.2.3.4:5678`, `::1:5678`, `ipv6:[::1]:5678`), else undefined. */
export function peerIp(peer: string): string | undefined {
  const s = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(s);
  if (bracketed && net.isIP(bracketed[1]!) !== 0) return bracketed[1];
  // gRPC names a peer `ADDRESS:PORT` with IPv6 unbracketed (`::1:5678`): the port goes first.
  const colon = s.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(s.slice(colon + 1)) && net.isIP(s.slice(0, colon)) !== 0)
    return s.slice(0, colon);
  return net.isIP(s) !== 0 ? s : undefined;
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as IPv4, lower case: the form compared. */
function canonical(ip: string): string {
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped ? mapped[1]! : lower;
}

export function isLoopback(ip: string): boolean {
  const c = canonical(ip);
  return c === '::1' || (net.isIPv4(c) && c.startsWith('127.'));
}

const isUnspecified = (ip: string) => ['0.0.0.0', '::'].includes(canonical(ip));

const url = (ip: string, port: number) => `http://${net.isIPv6(ip) ? `[${ip}]` : ip}:${port}`;

/** The admin base URL to dial (`http://IP:PORT`), or why the reported address is not used. */
export function adminTarget(reported: string, peer: string): AdminTarget {
  if (reported === '') return { ok: false, reason: 'it reported no ADMIN_ADDRESS' };
  const addr = parseIpPort(reported);
  if (addr === undefined)
    return {
      ok: false,
      reason: `its ADMIN_ADDRESS ${JSON.stringify(reported.slice(0, 100))} is not IP:PORT (host names and paths are not dialed)`,
    };
  const from = peerIp(peer);
  const fromLocal = from === undefined || isLoopback(from);
  if (isUnspecified(addr.ip)) return { ok: true, base: url(from ?? '127.0.0.1', addr.port) };
  if (isLoopback(addr.ip) && fromLocal) return { ok: true, base: url(addr.ip, addr.port) };
  if (from !== undefined && canonical(addr.ip) === canonical(from))
    return { ok: true, base: url(addr.ip, addr.port) };
  return {
    ok: false,
    reason: `its ADMIN_ADDRESS ${reported} is not on the machine its xDS connection comes from (${from ?? peer}); run its admin on that address or on loopback beside the control plane`,
  };
}
