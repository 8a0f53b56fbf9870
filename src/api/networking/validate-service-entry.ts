/**
 * ServiceEntry and WorkloadEntry validation, after Istio's validateServiceEntry and
 * validateWorkloadEntry: resolution-specific endpoint rules, port names and numbers.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, SpecCheck, type Obj } from '../fields.js';
import { isIPAddress, isHTTPProtocol, parseProtocol, portProtocol, type Protocol } from '../hosts.js';
import { cidrError, dns1123LabelError, fqdnError, wildcardDomainError } from '../names.js';
import { checkExportTo, checkLabels, checkName, checkWorkloadSelector } from './validate-common.js';

const FIELDS = [
  'hosts',
  'addresses',
  'ports',
  'location',
  'resolution',
  'endpoints',
  'workloadSelector',
  'exportTo',
  'subjectAltNames',
] as const;
const WORKLOAD_FIELDS = [
  'address',
  'ports',
  'labels',
  'network',
  'locality',
  'weight',
  'serviceAccount',
] as const;
const UNIX_PREFIX = 'unix://';

export function validateServiceEntry(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const se = c.object(spec, path, FIELDS);
  if (se === undefined) return;

  const hosts = c.stringList(se, 'hosts', path, { required: true, nonEmpty: true }) ?? [];
  for (const h of hosts) {
    if (h.value === '*') c.error(h.path, 'a ServiceEntry cannot use the wildcard host *');
    else {
      const err = wildcardDomainError(h.value);
      if (err !== undefined) c.error(h.path, err);
      else if (isPartialWildcard(h.value)) {
        c.warning(
          h.path,
          `partial wildcard ${JSON.stringify(h.value)} matches every host ending in ${JSON.stringify(h.value.slice(1))}; Istio warns about it too`,
        );
      }
    }
  }
  const addresses = c.stringList(se, 'addresses', path) ?? [];
  for (const a of addresses) {
    const err = cidrError(a.value);
    if (err !== undefined) c.error(a.path, err);
  }
  c.enumValue(se, 'location', path, ['MESH_EXTERNAL', 'MESH_INTERNAL']);
  // Istio 1.28's DYNAMIC_DNS (wildcard hosts resolved per request) is refused with what to do.
  const dynamic = se.resolution === 'DYNAMIC_DNS';
  if (dynamic) {
    c.error(
      fieldPath(path, 'resolution'),
      'DYNAMIC_DNS is not supported by Trellis yet; use resolution NONE, or list the hosts with resolution DNS (a Sidecar or mesh outboundTrafficPolicy ALLOW_ANY reaches other hosts through the dynamic forward proxy)',
    );
  }
  const resolution =
    (dynamic
      ? undefined
      : c.enumValue(se, 'resolution', path, ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'])) ?? 'NONE';
  const cidr = addresses.find((a) => a.value.includes('/'));
  if (cidr !== undefined && resolution !== 'NONE' && resolution !== 'STATIC') {
    c.error(
      cidr.path,
      `CIDR addresses need resolution NONE or STATIC, not ${resolution}; give single IP addresses or change resolution`,
    );
  }

  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  const protocols: string[] = [];
  for (const item of c.list(se, 'ports', path) ?? []) {
    if (item.value === null) {
      c.error(item.path, 'a port may not be null');
      continue;
    }
    const port = c.object(item.value, item.path, ['number', 'protocol', 'name', 'targetPort']);
    if (port === undefined) continue;
    const number = c.port(port, 'number', item.path, { required: true });
    if (number !== undefined) {
      if (portNumbers.has(number))
        c.error(fieldPath(item.path, 'number'), `port ${number} is already defined`);
      portNumbers.add(number);
    }
    const name = c.string(port, 'name', item.path, { required: true });
    if (name !== undefined) {
      checkName(c, name, fieldPath(item.path, 'name'), dns1123LabelError);
      if (portNames.has(name))
        c.error(fieldPath(item.path, 'name'), `port name ${JSON.stringify(name)} is already defined`);
      portNames.add(name);
    }
    c.port(port, 'targetPort', item.path);
    // Istio sniffs the protocol of a port without one; Trellis reads it from the port name.
    const text = c.string(port, 'protocol', item.path);
    const protocol =
      text === undefined || text === '' ? sniffedProtocol(c, name, item.path) : parseProtocol(text);
    if (protocol !== undefined) protocols.push(protocol);
    if (protocol === 'UNSUPPORTED') {
      c.error(
        fieldPath(item.path, 'protocol'),
        `${JSON.stringify(text)} is not a protocol; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL, UDP`,
      );
    } else if (
      protocol !== undefined &&
      !isHTTPProtocol(protocol) &&
      protocol !== 'HTTPS' &&
      protocol !== 'TLS' &&
      addresses.length === 0
    ) {
      // Without an address the proxy can only tell TCP services apart by port, so every
      // ServiceEntry on this port would collide (Istio warns the same way).
      c.warning(
        item.path,
        `${protocol} ports need addresses to be told apart from other services on port ${number ?? '?'}; set spec.addresses`,
      );
    }
  }

  // Plain TCP cannot tell several hosts apart (no Host header, no SNI), as Istio says.
  if (
    resolution !== 'NONE' &&
    hosts.length > 1 &&
    protocols.some((p) => !isHTTPProtocol(p as Protocol) && p !== 'HTTPS' && p !== 'TLS')
  ) {
    c.error(
      fieldPath(path, 'hosts'),
      'several hosts with a non-HTTP, non-TLS port need resolution NONE; split them into one ServiceEntry per host',
    );
  }

  const endpoints = c.list(se, 'endpoints', path) ?? [];
  const hasSelector = checkWorkloadSelector(c, se, 'workloadSelector', path);
  if (hasSelector && resolution === 'NONE') {
    c.warning(fieldPath(path, 'workloadSelector'), 'has no effect with resolution NONE');
  }
  const ep = fieldPath(path, 'endpoints');
  if (hasSelector && endpoints.length > 0) {
    c.error(fieldPath(path, 'workloadSelector'), 'cannot be combined with endpoints');
  }
  switch (resolution) {
    case 'NONE':
      if (endpoints.length > 0) c.error(ep, 'must be empty when resolution is NONE');
      break;
    case 'STATIC':
      // Istio accepts it (a service declared before its endpoints); calls to it fail meanwhile.
      if (endpoints.length === 0 && !hasSelector) {
        c.warning(
          fieldPath(path, 'resolution'),
          'STATIC without endpoints or a workloadSelector: calls to these hosts fail (503) until you add some',
        );
      }
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0 && !hasSelector) {
        for (const h of hosts) {
          if (h.value.includes('*')) {
            c.error(
              h.path,
              `resolution ${resolution} without endpoints needs hosts that DNS can resolve, not wildcards`,
            );
          }
        }
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
        c.error(ep, 'DNS_ROUND_ROBIN allows at most one endpoint');
      }
      break;
  }

  let unixEndpoints = 0;
  for (const e of endpoints) {
    if (e.value === null) {
      c.error(e.path, 'an endpoint may not be null');
      continue;
    }
    const w = c.object(e.value, e.path, WORKLOAD_FIELDS);
    if (w === undefined) continue;
    checkWorkload(c, w, e.path, { addressRequired: true, resolution, portNames });
    if (typeof w.address === 'string' && w.address.startsWith(UNIX_PREFIX)) unixEndpoints++;
  }
  if (unixEndpoints > 0 && portNumbers.size !== 1) {
    c.error(fieldPath(path, 'ports'), 'exactly one port is required with unix:// endpoints');
  }
  checkExportTo(c, se, path);
  c.stringList(se, 'subjectAltNames', path);
}

export function validateWorkloadEntry(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const w = c.object(spec, path, WORKLOAD_FIELDS);
  if (w === undefined) return;
  checkWorkload(c, w, path, { addressRequired: true });
}

/** A WorkloadGroup's template: a WorkloadEntry whose address the registering workload fills in. */
export function checkWorkloadTemplate(c: SpecCheck, o: Obj, key: string, path: string): void {
  const w = c.child(o, key, path, WORKLOAD_FIELDS, { required: true });
  if (w !== undefined) checkWorkload(c, w, fieldPath(path, key), { addressRequired: false, template: true });
}

interface WorkloadContext {
  addressRequired: boolean;
  /** A WorkloadGroup template: the address comes from the workload that registers. */
  template?: boolean;
  /** Resolution of the enclosing ServiceEntry: STATIC endpoints must be IPs. */
  resolution?: string;
  /** Port names of the enclosing ServiceEntry: endpoint ports must name one of them. */
  portNames?: Set<string>;
}

function checkWorkload(c: SpecCheck, w: Obj, path: string, ctx: WorkloadContext): void {
  const network = c.string(w, 'network', path);
  // Istio lets a workload reachable only through its network's gateway leave out the address.
  const address = c.string(w, 'address', path, { required: ctx.addressRequired && network === undefined });
  const ap = fieldPath(path, 'address');
  const unix = address?.startsWith(UNIX_PREFIX) ?? false;
  if ((address === undefined || address === '') && network !== undefined && ctx.template !== true) {
    c.warning(ap, `unset: the workload is reached through network ${JSON.stringify(network)}'s gateway`);
  }
  if (address !== undefined && address !== '') {
    if (unix) {
      const err = unixAddressError(address.slice(UNIX_PREFIX.length));
      if (err !== undefined) c.error(ap, err);
    } else if (ctx.resolution === 'STATIC' && !isIPAddress(address)) {
      c.error(
        ap,
        `${JSON.stringify(address)} must be an IP address (or unix:// path) with resolution STATIC`,
      );
    } else if (!isIPAddress(address) && fqdnError(address) !== undefined) {
      c.error(ap, `${JSON.stringify(address)} is not an IP address, DNS name or unix:// path`);
    }
  }
  for (const port of c.map(w, 'ports', path) ?? []) {
    const name = port.path.slice(fieldPath(path, 'ports').length + 1);
    if (
      typeof port.value !== 'number' ||
      !Number.isInteger(port.value) ||
      port.value < 1 ||
      port.value > 65535
    ) {
      c.error(port.path, 'expected a port number 1..65535');
    }
    checkName(c, name, port.path, dns1123LabelError);
    if (unix) c.error(port.path, 'a unix:// endpoint cannot have ports');
    if (ctx.portNames !== undefined && !ctx.portNames.has(name)) {
      c.error(port.path, `port name ${JSON.stringify(name)} is not one of the ServiceEntry's ports`);
    }
  }
  checkLabels(c, w, 'labels', path);
  const locality = c.string(w, 'locality', path);
  if (locality !== undefined && (locality.split('/').length > 3 || locality.split('/').includes(''))) {
    c.error(
      fieldPath(path, 'locality'),
      `${JSON.stringify(locality)} is not a locality; expected region[/zone[/subzone]]`,
    );
  }
  c.int(w, 'weight', path, { min: 0 });
  c.string(w, 'serviceAccount', path);
}

/** `*foo.example.com`: a wildcard that is not a whole leading label. */
function isPartialWildcard(host: string): boolean {
  return host.includes('*') && host !== '*' && !host.startsWith('*.');
}

/** Istio's ValidateUnixAddress: an absolute file path, or `@name` for an abstract socket. */
export function unixAddressError(socket: string): string | undefined {
  if (socket === '') return 'unix:// address needs a socket path';
  if (socket.startsWith('@')) return undefined;
  if (!socket.startsWith('/') || socket.endsWith('/')) {
    return `unix://${socket}: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)`;
  }
  return undefined;
}

/** The protocol of a port without one: from its name, with a warning when the name says none. */
function sniffedProtocol(c: SpecCheck, name: string | undefined, path: string): Protocol {
  const p = portProtocol(name);
  if (p === 'UNSUPPORTED') {
    c.warning(
      fieldPath(path, 'protocol'),
      'unset and the port name has no protocol prefix: Istio detects the protocol from the traffic, Trellis serves the port as TCP; set protocol (HTTP, GRPC, TLS...) or name the port http-..., grpc-...',
    );
    return 'TCP';
  }
  return p;
}
