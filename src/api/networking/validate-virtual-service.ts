/** VirtualService validation: hosts, gateways, and the http / tls / tcp routes. */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { hostMatches } from '../hosts.js';
import { dns1123LabelError } from '../names.js';
import {
  checkCidr,
  checkCidrList,
  checkExportTo,
  checkGatewayNames,
  checkHost,
  checkLabels,
  checkName,
} from './validate-common.js';
import { checkHTTPRoute, checkRouteDestinations } from './validate-http-route.js';

const FIELDS = ['hosts', 'gateways', 'http', 'tls', 'tcp', 'exportTo'] as const;
const TLS_MATCH_FIELDS = [
  'sniHosts',
  'destinationSubnets',
  'port',
  'sourceLabels',
  'gateways',
  'sourceNamespace',
] as const;
const L4_MATCH_FIELDS = [
  'destinationSubnets',
  'port',
  'sourceSubnet',
  'sourceLabels',
  'gateways',
  'sourceNamespace',
] as const;

export function validateVirtualService(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const vs = c.object(spec, path, FIELDS);
  if (vs === undefined) return;

  const hosts = c.stringList(vs, 'hosts', path) ?? [];
  const delegate = hosts.length === 0 && (isAbsent(vs.hosts) || Array.isArray(vs.hosts));
  const gateways = checkGatewayNames(c, vs, 'gateways', path);
  const boundToMesh = gateways.length === 0 || gateways.some((g) => g.value === 'mesh');

  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.value)) c.error(h.path, `duplicate host ${JSON.stringify(h.value)}`);
    seen.add(h.value);
    if (h.value === '*' && boundToMesh) {
      c.error(h.path, 'wildcard host * is not allowed for virtual services bound to the mesh gateway');
    } else {
      checkHost(c, h.value, h.path);
    }
  }

  if (delegate) {
    if (gateways.length > 0) {
      c.error(fieldPath(path, 'gateways'), 'a delegate VirtualService (no hosts) must not set gateways');
    }
    for (const key of ['tls', 'tcp']) {
      if (!isAbsent(vs[key])) {
        c.error(fieldPath(path, key), 'a delegate VirtualService (no hosts) can only have http routes');
      }
    }
  }

  const empty = (k: string) => isAbsent(vs[k]) || (Array.isArray(vs[k]) && vs[k].length === 0);
  if (empty('http') && empty('tcp') && empty('tls')) {
    c.error(path, 'at least one of http, tls or tcp routes is required');
  }

  for (const r of c.list(vs, 'http', path) ?? []) {
    checkHTTPRoute(c, r.value, r.path, { delegateVirtualService: delegate, gatewaysOnly: !boundToMesh });
  }
  const hostNames = hosts.map((h) => h.value);
  for (const r of c.list(vs, 'tls', path) ?? []) checkTLSRoute(c, r.value, r.path, hostNames);
  for (const r of c.list(vs, 'tcp', path) ?? []) checkTCPRoute(c, r.value, r.path);
  checkExportTo(c, vs, path);
}

function checkL4Common(c: SpecCheck, m: Obj, path: string): void {
  checkCidrList(c, m, 'destinationSubnets', path);
  c.port(m, 'port', path);
  checkLabels(c, m, 'sourceLabels', path);
  checkGatewayNames(c, m, 'gateways', path);
  const ns = c.string(m, 'sourceNamespace', path);
  if (ns !== undefined) checkName(c, ns, fieldPath(path, 'sourceNamespace'), dns1123LabelError);
}

function checkTLSRoute(c: SpecCheck, value: unknown, path: string, vsHosts: string[]): void {
  const r = c.object(value, path, ['match', 'route']);
  if (r === undefined) return;
  for (const m of c.list(r, 'match', path, { required: true, nonEmpty: true }) ?? []) {
    const mo = c.object(m.value, m.path, TLS_MATCH_FIELDS);
    if (mo === undefined) continue;
    for (const sni of c.stringList(mo, 'sniHosts', m.path, { required: true, nonEmpty: true }) ?? []) {
      checkHost(c, sni.value, sni.path);
      if (vsHosts.length > 0 && !vsHosts.some((h) => hostMatches(h, sni.value))) {
        c.error(
          sni.path,
          `SNI host ${JSON.stringify(sni.value)} is not covered by any of the VirtualService's hosts`,
        );
      }
    }
    checkL4Common(c, mo, m.path);
  }
  checkRouteDestinations(c, r, 'route', path, false, { required: true });
}

function checkTCPRoute(c: SpecCheck, value: unknown, path: string): void {
  const r = c.object(value, path, ['match', 'route']);
  if (r === undefined) return;
  for (const m of c.list(r, 'match', path) ?? []) {
    const mo = c.object(m.value, m.path, L4_MATCH_FIELDS);
    if (mo === undefined) continue;
    checkL4Common(c, mo, m.path);
    checkCidr(c, mo, 'sourceSubnet', m.path);
  }
  checkRouteDestinations(c, r, 'route', path, false, { required: true });
}
