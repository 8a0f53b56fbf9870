/**
 * GatewayClass, Gateway and ReferenceGrant, checked as the Gateway API's CRDs check them (their
 * OpenAPI schema and CEL rules, gateway-api v1.2 `config/crd/standard`).
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, SpecCheck, type Obj } from '../fields.js';
import { labelKeyError, labelValueError } from '../names.js';
import { checkGroupKind, checkHostname, checkNamespace, checkObjectName } from './validate-common.js';

const CONTROLLER_NAME =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

export function validateGatewayClass(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, ['controllerName', 'description', 'parametersRef']);
  if (s === undefined) return;
  const name = c.string(s, 'controllerName', path, { required: true });
  if (name !== undefined && !CONTROLLER_NAME.test(name)) {
    c.error(
      fieldPath(path, 'controllerName'),
      `${JSON.stringify(name)} is not a domain-prefixed path (e.g. "istio.io/gateway-controller")`,
    );
  }
  c.string(s, 'description', path);
  const ref = c.child(s, 'parametersRef', path, ['group', 'kind', 'name', 'namespace']);
  if (ref !== undefined) {
    const p = fieldPath(path, 'parametersRef');
    checkGroupKind(c, ref, p);
    c.string(ref, 'kind', p, { required: true });
    checkObjectName(c, ref, 'name', p, true);
    checkNamespace(c, ref, p);
  }
}

const PROTOCOL =
  /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/;
const LISTENER_FIELDS = ['name', 'hostname', 'port', 'protocol', 'tls', 'allowedRoutes'] as const;

export function validateKubernetesGateway(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, [
    'gatewayClassName',
    'listeners',
    'addresses',
    'infrastructure',
    'backendTLS',
  ]);
  if (s === undefined) return;
  c.string(s, 'gatewayClassName', path, { required: true });
  if (s.backendTLS !== undefined && s.backendTLS !== null) {
    c.error(
      fieldPath(path, 'backendTLS'),
      'not supported by Trellis; originate TLS to backends with an Istio DestinationRule (trafficPolicy.tls)',
    );
  }
  const listeners = c.list(s, 'listeners', path, { required: true, nonEmpty: true }) ?? [];
  if (listeners.length > 64) c.error(fieldPath(path, 'listeners'), 'at most 64 listeners');
  const names = new Set<string>();
  const combos = new Set<string>();
  for (const item of listeners) {
    const l = c.object(item.value, item.path, LISTENER_FIELDS);
    if (l === undefined) continue;
    const name = c.string(l, 'name', item.path, { required: true });
    if (name !== undefined) {
      if (names.has(name))
        c.error(fieldPath(item.path, 'name'), `listener name ${JSON.stringify(name)} must be unique`);
      names.add(name);
    }
    const port = c.port(l, 'port', item.path, { required: true });
    const protocol = c.string(l, 'protocol', item.path, { required: true });
    if (protocol !== undefined && !PROTOCOL.test(protocol)) {
      c.error(
        fieldPath(item.path, 'protocol'),
        `${JSON.stringify(protocol)} is not valid; expected HTTP, HTTPS, TLS, TCP or UDP`,
      );
    }
    const hostname = c.string(l, 'hostname', item.path);
    if (hostname !== undefined) {
      checkHostname(c, hostname, fieldPath(item.path, 'hostname'));
      if (protocol === 'TCP' || protocol === 'UDP') {
        c.error(fieldPath(item.path, 'hostname'), `must not be set for protocol ${protocol}`);
      }
    }
    const key = `${port}/${protocol}/${hostname ?? ''}`;
    if (combos.has(key)) {
      c.error(
        item.path,
        'another listener has the same port, protocol and hostname; each combination must be unique',
      );
    }
    combos.add(key);
    checkTls(c, l, item.path, protocol);
    checkAllowedRoutes(c, l, item.path);
  }
  for (const item of c.list(s, 'addresses', path) ?? []) {
    const a = c.object(item.value, item.path, ['type', 'value']);
    if (a === undefined) continue;
    c.string(a, 'type', item.path);
    c.string(a, 'value', item.path, { required: true });
  }
  const infra = c.child(s, 'infrastructure', path, ['labels', 'annotations', 'parametersRef']);
  if (infra !== undefined) {
    const p = fieldPath(path, 'infrastructure');
    for (const [k, v] of c.stringMap(infra, 'labels', p) ?? []) {
      const err = labelKeyError(k) ?? labelValueError(v);
      if (err !== undefined) c.error(fieldPath(fieldPath(p, 'labels'), k), err);
    }
    c.stringMap(infra, 'annotations', p);
  }
}

function checkTls(c: SpecCheck, l: Obj, path: string, protocol: string | undefined): void {
  const tlsRequired = protocol === 'HTTPS' || protocol === 'TLS';
  if (l.tls === undefined || l.tls === null) {
    if (tlsRequired) c.error(fieldPath(path, 'tls'), `required for protocol ${protocol}`);
    return;
  }
  if (protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP') {
    c.error(fieldPath(path, 'tls'), `must not be set for protocol ${protocol}`);
  }
  const t = c.child(l, 'tls', path, ['mode', 'certificateRefs', 'options', 'frontendValidation']);
  if (t === undefined) return;
  const p = fieldPath(path, 'tls');
  if (t.frontendValidation !== undefined && t.frontendValidation !== null) {
    // Client certificate checks that were silently skipped would admit every client.
    c.error(
      fieldPath(p, 'frontendValidation'),
      'client certificate validation of Gateway API listeners is not supported by Trellis; use an Istio Gateway server with tls.mode MUTUAL',
    );
  }
  const mode = c.enumValue(t, 'mode', p, ['Terminate', 'Passthrough']) ?? 'Terminate';
  const refs = c.list(t, 'certificateRefs', p) ?? [];
  if (refs.length > 64) c.error(fieldPath(p, 'certificateRefs'), 'at most 64 certificateRefs');
  for (const item of refs) {
    const r = c.object(item.value, item.path, ['group', 'kind', 'name', 'namespace']);
    if (r === undefined) continue;
    checkGroupKind(c, r, item.path);
    checkNamespace(c, r, item.path);
    checkObjectName(c, r, 'name', item.path, true);
  }
  const options = c.stringMap(t, 'options', p);
  if (mode === 'Terminate' && refs.length === 0 && (options?.size ?? 0) === 0) {
    c.error(
      fieldPath(p, 'certificateRefs'),
      'required when mode is Terminate (the Secrets holding the certificate and key)',
    );
  }
  if (mode === 'Passthrough' && protocol === 'HTTPS') {
    c.error(fieldPath(p, 'mode'), 'Passthrough needs protocol TLS (an HTTPS listener terminates TLS)');
  }
}

function checkAllowedRoutes(c: SpecCheck, l: Obj, path: string): void {
  const a = c.child(l, 'allowedRoutes', path, ['namespaces', 'kinds']);
  if (a === undefined) return;
  const p = fieldPath(path, 'allowedRoutes');
  const ns = c.child(a, 'namespaces', p, ['from', 'selector']);
  if (ns !== undefined) {
    const np = fieldPath(p, 'namespaces');
    const from = c.enumValue(ns, 'from', np, ['All', 'Same', 'Selector']);
    const sel = c.child(ns, 'selector', np, ['matchLabels', 'matchExpressions']);
    if (from === 'Selector' && sel === undefined)
      c.error(fieldPath(np, 'selector'), 'required when from is Selector');
    if (sel !== undefined) {
      const sp = fieldPath(np, 'selector');
      c.stringMap(sel, 'matchLabels', sp);
      for (const item of c.list(sel, 'matchExpressions', sp) ?? []) {
        const e = c.object(item.value, item.path, ['key', 'operator', 'values']);
        if (e === undefined) continue;
        c.string(e, 'key', item.path, { required: true });
        const op = c.enumValue(e, 'operator', item.path, ['In', 'NotIn', 'Exists', 'DoesNotExist'], {
          required: true,
        });
        const values = c.stringList(e, 'values', item.path);
        if ((op === 'In' || op === 'NotIn') && (values?.length ?? 0) === 0) {
          c.error(fieldPath(item.path, 'values'), `required (non-empty) for operator ${op}`);
        }
        if ((op === 'Exists' || op === 'DoesNotExist') && (values?.length ?? 0) > 0) {
          c.error(fieldPath(item.path, 'values'), `must be empty for operator ${op}`);
        }
      }
    }
  }
  for (const item of c.list(a, 'kinds', p) ?? []) {
    const k = c.object(item.value, item.path, ['group', 'kind']);
    if (k === undefined) continue;
    checkGroupKind(c, k, item.path);
    c.string(k, 'kind', item.path, { required: true });
  }
}

export function validateReferenceGrant(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, ['from', 'to']);
  if (s === undefined) return;
  for (const item of c.list(s, 'from', path, { required: true, nonEmpty: true }) ?? []) {
    const f = c.object(item.value, item.path, ['group', 'kind', 'namespace']);
    if (f === undefined) continue;
    if (f.group === undefined) c.error(fieldPath(item.path, 'group'), 'required ("" for the core group)');
    checkGroupKind(c, f, item.path);
    c.string(f, 'kind', item.path, { required: true });
    c.string(f, 'namespace', item.path, { required: true });
    checkNamespace(c, f, item.path);
  }
  for (const item of c.list(s, 'to', path, { required: true, nonEmpty: true }) ?? []) {
    const t = c.object(item.value, item.path, ['group', 'kind', 'name']);
    if (t === undefined) continue;
    if (t.group === undefined)
      c.error(fieldPath(item.path, 'group'), 'required ("" for the core group, e.g. Service or Secret)');
    checkGroupKind(c, t, item.path);
    c.string(t, 'kind', item.path, { required: true });
    checkObjectName(c, t, 'name', item.path, false);
  }
}
