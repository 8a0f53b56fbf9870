/**
 * ServiceEntry and WorkloadEntry validation, after Istio's validateServiceEntry and
 * validateWorkloadEntry: resolution-specific endpoint rules, port names and numbers.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, SpecCheck, type Obj } from '../fields.js';
import { isIPAddress, isHTTPProtocol, parseProtocol } from '../hosts.js';
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
    }
  }
  const addresses = c.stringList(se, 'addresses', path) ?? [];
  for (const a of addresses) {
    const err = cidrError(a.value);
    if (err !== undefined) c.error(a.path, err);
  }
  c.enumValue(se, 'location', path, ['MESH_EXTERNAL', 'MESH_INTERNAL']);
  const resolution =
    c.enumValue(se, 'resolution', path, ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']) ?? 'NONE';

  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  for (const item of c.list(se, 'ports', path) ?? []) {
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
    const text = c.string(port, 'protocol', item.path, { required: true });
    const protocol = text === undefined ? undefined : parseProtocol(text);
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

  const endpoints = c.list(se, 'endpoints', path) ?? [];
  const hasSelector = checkWorkloadSelector(c, se, 'workloadSelector', path);
  const ep = fieldPath(path, 'endpoints');
  if (hasSelector && endpoints.length > 0) {
    c.error(fieldPath(path, 'workloadSelector'), 'cannot be combined with endpoints');
  }
  switch (resolution) {
    case 'NONE':
      if (endpoints.length > 0) c.error(ep, 'must be empty when resolution is NONE');
      break;
    case 'STATIC':
      if (endpoints.length === 0 && !hasSelector) {
        c.error(fieldPath(path, 'resolution'), 'STATIC needs endpoints or a workloadSelector');
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

interface WorkloadContext {
  addressRequired: boolean;
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
  if (address !== undefined && address !== '') {
    if (unix) {
      if (address.length === UNIX_PREFIX.length) c.error(ap, 'unix:// address needs a socket path');
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
