/**
 * Names of the Listeners an xDS-enabled gRPC server asks for (gRFC A36). Istio's proxyless
 * agent writes `server_listener_resource_name_template: xds.istio.io/grpc/lds/inbound/%s` into
 * the bootstrap, and the server fills `%s` with the address it binds, exactly as the
 * application passed it (`0.0.0.0:50051`, `[::]:50051`, `10.0.0.7:50051`).
 */
import { isIP } from 'node:net';

export const SERVER_LISTENER_PREFIX = 'xds.istio.io/grpc/lds/inbound/';
export const SERVER_LISTENER_TEMPLATE = `${SERVER_LISTENER_PREFIX}%s`;

export function isServerListenerName(name: string): boolean {
  return name.startsWith(SERVER_LISTENER_PREFIX);
}

export function serverListenerName(address: string, port: number): string {
  return `${SERVER_LISTENER_PREFIX}${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * The address and port in a server listener name; undefined for anything else. The address is
 * an IP literal (IPv6 in brackets in the name, without them in the result, as the server
 * compares it with the Listener's socket_address); the port is 1..65535.
 */
export function parseServerListenerName(name: string): { address: string; port: number } | undefined {
  if (!isServerListenerName(name)) return undefined;
  const rest = name.slice(SERVER_LISTENER_PREFIX.length);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(rest);
  if (m === null) return undefined;
  const address = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  const family = isIP(address);
  if (port < 1 || port > 65535 || family === 0) return undefined;
  // Brackets exactly when the address is IPv6.
  if ((m[1] !== undefined) !== (family === 6)) return undefined;
  return { address, port };
}
