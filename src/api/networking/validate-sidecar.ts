/** Sidecar validation: workload selector, ingress and egress listeners, outbound policy. */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck } from '../fields.js';
import { isHTTPProtocol, isIPAddress } from '../hosts.js';
import { dns1123LabelError } from '../names.js';
import { checkDestination, checkName, checkWorkloadSelector } from './validate-common.js';
import { checkServerPort, checkServerTLS, namespacedHostError } from './validate-gateway.js';
import { unixAddressError } from './validate-service-entry.js';
import { checkConnectionPool } from './validate-traffic-policy.js';

const FIELDS = [
  'workloadSelector',
  'ingress',
  'egress',
  'outboundTrafficPolicy',
  'inboundConnectionPool',
] as const;
const CAPTURE_MODES = ['DEFAULT', 'IPTABLES', 'NONE'];

export function validateSidecar(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const sc = c.object(spec, path, FIELDS);
  if (sc === undefined) return;
  checkWorkloadSelector(c, sc, 'workloadSelector', path);
  if (['ingress', 'egress', 'outboundTrafficPolicy', 'inboundConnectionPool'].every((k) => isAbsent(sc[k]))) {
    c.error(
      path,
      'a Sidecar needs at least one of ingress, egress, outboundTrafficPolicy, inboundConnectionPool (Istio rejects an empty one)',
    );
  }

  const ingressPorts = new Set<number>();
  for (const item of c.list(sc, 'ingress', path) ?? []) {
    if (item.value === null) {
      c.error(item.path, 'an ingress listener may not be null');
      continue;
    }
    const l = c.object(item.value, item.path, [
      'port',
      'bind',
      'captureMode',
      'defaultEndpoint',
      'tls',
      'connectionPool',
    ]);
    if (l === undefined) continue;
    let protocol: ReturnType<typeof checkServerPort>;
    if (c.present(l, 'port', item.path)) {
      protocol = checkServerPort(c, l, item.path, 'sidecar');
      checkPortName(c, l.port, item.path);
      const n = (l.port as { number?: unknown }).number;
      if (typeof n === 'number') {
        if (ingressPorts.has(n))
          c.error(
            fieldPath(fieldPath(item.path, 'port'), 'number'),
            `port ${n} already has an ingress listener`,
          );
        ingressPorts.add(n);
      }
      checkServerTLS(c, l, 'tls', item.path, protocol);
      checkSidecarIngressTLS(c, l.tls, fieldPath(item.path, 'tls'));
    }
    checkBind(c, l, item.path);
    c.enumValue(l, 'captureMode', item.path, CAPTURE_MODES);
    const endpoint = c.string(l, 'defaultEndpoint', item.path);
    if (endpoint !== undefined && endpoint !== '') {
      const err = defaultEndpointError(endpoint);
      if (err !== undefined) c.error(fieldPath(item.path, 'defaultEndpoint'), err);
    }
    checkConnectionPool(c, l, 'connectionPool', item.path);
    const pool = l.connectionPool as { http?: unknown } | undefined;
    if (protocol !== undefined && !isHTTPProtocol(protocol) && !isAbsent(pool?.http)) {
      const port = l.port as { number?: unknown };
      c.warning(
        fieldPath(fieldPath(item.path, 'connectionPool'), 'http'),
        `port ${String(port.number)} is ${protocol}, not HTTP: only the tcp settings of this connection pool apply`,
      );
    }
  }

  const egress = c.list(sc, 'egress', path) ?? [];
  let catchAll = 0;
  const egressPorts = new Set<number>();
  egress.forEach((item, i) => {
    if (item.value === null) {
      c.error(item.path, 'an egress listener may not be null');
      return;
    }
    const l = c.object(item.value, item.path, ['port', 'bind', 'captureMode', 'hosts']);
    if (l === undefined) return;
    if (isAbsent(l.port)) {
      catchAll++;
      if (catchAll > 1) c.error(item.path, 'only one egress listener may leave out port');
      else if (i !== egress.length - 1)
        c.error(item.path, 'the egress listener without port must be the last one');
    } else {
      checkServerPort(c, l, item.path, 'sidecar');
      checkPortName(c, l.port, item.path);
      const n = (l.port as { number?: unknown }).number;
      if (typeof n === 'number') {
        if (egressPorts.has(n))
          c.error(
            fieldPath(fieldPath(item.path, 'port'), 'number'),
            `port ${n} already has an egress listener (ports of IP-bound listeners must be unique)`,
          );
        egressPorts.add(n);
      }
    }
    checkBind(c, l, item.path);
    c.enumValue(l, 'captureMode', item.path, CAPTURE_MODES);
    const hosts = c.stringList(l, 'hosts', item.path, { required: true, nonEmpty: true }) ?? [];
    for (const h of hosts) {
      const err = namespacedHostError(h.value, false);
      if (err !== undefined) c.error(h.path, err);
    }
    checkDuplicateEgressHosts(c, hosts);
  });

  const otp = c.child(sc, 'outboundTrafficPolicy', path, ['mode', 'egressProxy']);
  if (otp !== undefined) {
    const op = fieldPath(path, 'outboundTrafficPolicy');
    let mode: string | undefined;
    if (otp.mode === 'ALLOW_ANY_DYNAMIC_DNS') {
      c.error(
        fieldPath(op, 'mode'),
        'ALLOW_ANY_DYNAMIC_DNS is a mesh-wide mode (MeshConfig outboundTrafficPolicy), not a Sidecar one; use ALLOW_ANY or REGISTRY_ONLY',
      );
    } else {
      mode = c.enumValue(otp, 'mode', op, ['REGISTRY_ONLY', 'ALLOW_ANY']);
    }
    if (!isAbsent(otp.egressProxy)) {
      if (mode !== 'ALLOW_ANY') c.error(fieldPath(op, 'egressProxy'), 'only allowed with mode ALLOW_ANY');
      checkDestination(c, otp.egressProxy, fieldPath(op, 'egressProxy'));
      if (mode === 'ALLOW_ANY' && isAbsent((otp.egressProxy as { port?: unknown } | undefined)?.port)) {
        c.error(fieldPath(fieldPath(op, 'egressProxy'), 'port'), 'required: the port of the egress proxy');
      }
    }
  }
  checkConnectionPool(c, sc, 'inboundConnectionPool', path);
}

/** Istio: what a Sidecar's ingress TLS cannot hold (it serves the workload's own certificate). */
function checkSidecarIngressTLS(c: SpecCheck, value: unknown, p: string): void {
  if (typeof value !== 'object' || value === null) return;
  const tls = value as Record<string, unknown>;
  const has = (k: string) => !isAbsent(tls[k]) && !(Array.isArray(tls[k]) && tls[k].length === 0);
  const refused: [string, string][] = [
    ['subjectAltNames', 'not supported in a Sidecar ingress listener'],
    ['credentialName', 'not supported in a Sidecar ingress listener; give serverCertificate and privateKey'],
    ['credentialNames', 'not supported in a Sidecar ingress listener; give serverCertificate and privateKey'],
    ['tlsCertificates', 'not supported in a Sidecar ingress listener; give serverCertificate and privateKey'],
  ];
  for (const [k, why] of refused) if (has(k)) c.error(fieldPath(p, k), why);
  if (tls.httpsRedirect === true)
    c.error(fieldPath(p, 'httpsRedirect'), 'not supported in a Sidecar ingress listener');
  if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') {
    c.error(
      fieldPath(p, 'mode'),
      `${tls.mode} is not allowed in a Sidecar ingress listener; mesh mTLS is set by PeerAuthentication`,
    );
  }
}

/** A Sidecar port's name is optional; when set, a DNS-1123 label (Istio: ValidatePortName). */
function checkPortName(c: SpecCheck, port: unknown, path: string): void {
  const name = (port as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && name !== '')
    checkName(c, name, fieldPath(fieldPath(path, 'port'), 'name'), dns1123LabelError);
}

/** `bind`: an IP address the listener binds (Istio: ValidateIPAddress). */
function checkBind(c: SpecCheck, l: Record<string, unknown>, path: string): void {
  const bind = c.string(l, 'bind', path);
  if (bind !== undefined && bind !== '' && !isIPAddress(bind))
    c.error(fieldPath(path, 'bind'), `${JSON.stringify(bind)} is not an IP address`);
}

/**
 * Istio's defaultEndpoint forms: `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT`,
 * `:PORT` or `unix://PATH`, with a port 1..65535.
 */
export function defaultEndpointError(endpoint: string): string | undefined {
  if (endpoint.startsWith('unix://')) return unixAddressError(endpoint.slice('unix://'.length));
  const forms = 'expected 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT, :PORT or unix://PATH';
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(endpoint);
  if (m === null) return `${JSON.stringify(endpoint)}: ${forms}`;
  const host = m[1] ?? m[2] ?? '';
  if (!['', '127.0.0.1', '0.0.0.0', '::1', '::'].includes(host))
    return `${JSON.stringify(endpoint)}: ${forms}`;
  const port = m[3] ?? '';
  if (!/^\d+$/.test(port)) return `${JSON.stringify(endpoint)}: port ${JSON.stringify(port)} is not a number`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `${JSON.stringify(endpoint)}: port ${n} is out of range; expected 1..65535`;
  return undefined;
}

/**
 * Istio warns (it does not reject) when an egress listener names a host twice, names hosts of a
 * namespace it already takes whole (`ns/*`), or names anything beside `*\/*`. (Istio reads `.`
 * as the Sidecar's namespace; validation sees only the spec, so `.` counts as its own.)
 */
function checkDuplicateEgressHosts(c: SpecCheck, hosts: readonly { value: string; path: string }[]): void {
  const seen = new Map<string, Set<string>>();
  for (const h of hosts) {
    const slash = h.value.indexOf('/');
    if (slash < 0 || h.value.startsWith('~')) continue;
    const ns = h.value.slice(0, slash);
    const host = h.value.slice(slash + 1);
    const names = seen.get(ns) ?? new Set<string>();
    seen.set(ns, names);
    const duplicate = host === '*' ? names.size > 0 : names.has(host) || names.has('*');
    if (duplicate) c.warning(h.path, `duplicated egress host ${JSON.stringify(h.value)}`);
    names.add(host);
  }
  if (seen.get('*')?.has('*') === true && seen.size > 1) {
    c.warning(
      hosts[0]?.path.replace(/\[\d+\]$/, '') ?? '',
      '"*/*" selects every host already; the other hosts of this listener add nothing',
    );
  }
}
