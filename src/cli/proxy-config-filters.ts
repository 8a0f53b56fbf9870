/**
 * `trellis proxy-config` filters, as istioctl's: clusters by --fqdn --port --subset --direction,
 * listeners by --name --address --port, routes by --name --port. Each flag narrows; a flag that
 * does not apply to the type is an error naming the ones that do. Pure: table-tested.
 */
import { TrellisError } from '../core/errors.js';
import { arr, obj, parseClusterName, type Json } from './config-dump.js';

export interface ProxyConfigFilter {
  fqdn?: string;
  port?: string;
  subset?: string;
  direction?: string;
  name?: string;
  address?: string;
}

export const FILTER_FLAGS: Record<string, readonly (keyof ProxyConfigFilter)[]> = {
  clusters: ['fqdn', 'port', 'subset', 'direction'],
  listeners: ['name', 'address', 'port'],
  routes: ['name', 'port'],
  endpoints: [],
  secrets: [],
  all: [],
};

/** Rejects flags the type does not filter by, and malformed values. */
export function checkFilter(type: string, f: ProxyConfigFilter): void {
  const allowed = FILTER_FLAGS[type] ?? [];
  for (const [flag, value] of Object.entries(f) as [keyof ProxyConfigFilter, string | undefined][]) {
    if (value === undefined || allowed.includes(flag)) continue;
    const which = Object.entries(FILTER_FLAGS)
      .filter(([, flags]) => flags.includes(flag))
      .map(([t]) => t)
      .join(' and ');
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--${flag} filters ${which}, not ${type}` +
        (allowed.length ? `; ${type} take ${allowed.map((a) => `--${a}`).join(', ')}` : ''),
    );
  }
  if (f.port !== undefined && !/^\d{1,5}$/.test(f.port)) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--port ${JSON.stringify(f.port)}: expected a port number`,
    );
  }
  if (f.direction !== undefined && f.direction !== 'inbound' && f.direction !== 'outbound') {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--direction ${JSON.stringify(f.direction)}: expected inbound or outbound`,
    );
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** `reviews`, `reviews.default` and the full host all name reviews.default.svc.cluster.local. */
function hostMatches(fqdn: string, wanted: string): boolean {
  return fqdn === wanted || fqdn.startsWith(`${wanted}.`);
}

export function filterClusters(clusters: readonly Json[], f: ProxyConfigFilter): Json[] {
  return clusters.filter((c) => {
    const p = parseClusterName(str(c.name));
    return (
      (f.fqdn === undefined || hostMatches(p.fqdn, f.fqdn)) &&
      (f.port === undefined || p.port === f.port) &&
      (f.subset === undefined || p.subset === f.subset) &&
      (f.direction === undefined || p.direction === f.direction)
    );
  });
}

export function filterListeners(listeners: readonly Json[], f: ProxyConfigFilter): Json[] {
  return listeners.filter((l) => {
    const sock = obj(obj(l.address).socketAddress);
    return (
      (f.name === undefined || str(l.name) === f.name) &&
      (f.address === undefined || str(sock.address) === f.address) &&
      (f.port === undefined || str(sock.portValue) === f.port)
    );
  });
}

/** A route config serves a port when Istio's naming says so: `9080`, `inbound|9080||`, `0.0.0.0_9080`. */
function routeConfigPort(rc: Json, port: string): boolean {
  const name = str(rc.name);
  if (name === port || name.split('|')[1] === port || name.endsWith(`_${port}`)) return true;
  // Gateway route configs (`http.8080`) and anything else: a virtual host answering on that port.
  return (
    name.endsWith(`.${port}`) ||
    arr(rc.virtualHosts).some((vh) => arr(obj(vh).domains).some((d) => str(d).endsWith(`:${port}`)))
  );
}

export function filterRouteConfigs(routeConfigs: readonly Json[], f: ProxyConfigFilter): Json[] {
  return routeConfigs.filter(
    (rc) =>
      (f.name === undefined || str(rc.name) === f.name) &&
      (f.port === undefined || routeConfigPort(rc, f.port)),
  );
}
