/** Gateway validation: servers, ports, hosts (`namespace/host`) and server TLS. */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { isHTTPProtocol, isIPAddress, isTLSProtocol, parseProtocol } from '../hosts.js';
import { dns1123LabelError, wildcardDomainError } from '../names.js';
import { checkLabels } from './validate-common.js';

const SERVER_FIELDS = ['port', 'bind', 'hosts', 'tls', 'defaultEndpoint', 'name'] as const;
export const SERVER_TLS_FIELDS = [
  'httpsRedirect',
  'mode',
  'serverCertificate',
  'privateKey',
  'caCertificates',
  'caCrl',
  'credentialName',
  'credentialNames',
  'subjectAltNames',
  'verifyCertificateSpki',
  'verifyCertificateHash',
  'minProtocolVersion',
  'maxProtocolVersion',
  'cipherSuites',
  'insecureSkipVerify',
  'ecdhCurves',
  'caCertCredentialName',
  'tlsCertificates',
] as const;
const TLS_MODES = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'];
const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'];

export function validateGateway(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const gw = c.object(spec, path, ['servers', 'selector']);
  if (gw === undefined) return;
  checkLabels(c, gw, 'selector', path);
  const portNames = new Map<string, number>();
  for (const s of c.list(gw, 'servers', path, { required: true, nonEmpty: true }) ?? []) {
    const server = c.object(s.value, s.path, SERVER_FIELDS);
    if (server === undefined) continue;
    const protocol = checkServerPort(c, server, s.path, 'gateway');
    const port = server.port as Obj | undefined;
    const name = typeof port?.name === 'string' ? port.name : undefined;
    if (name !== undefined) {
      const previous = portNames.get(name);
      if (previous !== undefined && previous !== port?.number) {
        c.error(
          fieldPath(fieldPath(s.path, 'port'), 'name'),
          `port name ${JSON.stringify(name)} is already used for another port`,
        );
      }
      portNames.set(name, port?.number as number);
    }
    for (const h of c.stringList(server, 'hosts', s.path, { required: true, nonEmpty: true }) ?? []) {
      const err = namespacedHostError(h.value, true);
      if (err !== undefined) c.error(h.path, err);
    }
    c.string(server, 'bind', s.path);
    c.string(server, 'defaultEndpoint', s.path);
    c.string(server, 'name', s.path);
    checkServerTLS(c, server, 'tls', s.path, protocol);
  }
}

/**
 * The port of a Gateway server or Sidecar listener: number, name and protocol are required
 * there (targetPort belongs to ServiceEntry only). Returns the parsed protocol.
 */
export function checkServerPort(c: SpecCheck, o: Obj, path: string, where: 'gateway' | 'sidecar') {
  const port = c.child(o, 'port', path, ['number', 'protocol', 'name', 'targetPort'], {
    required: where === 'gateway',
  });
  if (port === undefined) return undefined;
  const p = fieldPath(path, 'port');
  c.port(port, 'number', p, { required: true });
  c.string(port, 'name', p, { required: where === 'gateway' });
  // A Sidecar port without protocol is sniffed, as Istio does for unnamed ports.
  const text = c.string(port, 'protocol', p, { required: where === 'gateway' });
  if (!isAbsent(port.targetPort)) c.error(fieldPath(p, 'targetPort'), 'only valid in a ServiceEntry');
  if (text === undefined) return undefined;
  const protocol = parseProtocol(text);
  if (protocol === 'UNSUPPORTED') {
    c.error(
      fieldPath(p, 'protocol'),
      `${JSON.stringify(text)} is not a protocol; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL`,
    );
    return undefined;
  }
  return protocol;
}

/**
 * `namespace/host` as Gateway servers and Sidecar egress write hosts. Gateways may leave the
 * namespace out; the namespace is `*`, `.`, `~` (sidecar) or a namespace name.
 */
export function namespacedHostError(text: string, namespaceOptional: boolean): string | undefined {
  const parts = text.split('/');
  if (parts.length > 2 || (parts.length === 1 && !namespaceOptional)) {
    return `${JSON.stringify(text)}: expected NAMESPACE/HOST, e.g. "./*", "istio-system/*" or "*/reviews.default.svc.cluster.local"`;
  }
  const [ns, host] = parts.length === 2 ? (parts as [string, string]) : ['*', parts[0] ?? ''];
  if (
    ns !== '*' &&
    ns !== '.' &&
    !(ns === '~' && !namespaceOptional) &&
    dns1123LabelError(ns) !== undefined
  ) {
    return `${JSON.stringify(text)}: namespace ${JSON.stringify(ns)} must be '*', '.'${namespaceOptional ? '' : ", '~'"} or a namespace name`;
  }
  if (host.includes('*') && host !== '*' && !host.startsWith('*.')) {
    return `${JSON.stringify(text)}: partial wildcard ${JSON.stringify(host)} is not allowed here; use "*" or "*.domain"`;
  }
  if (host !== '*' && !host.includes('.') && !isIPAddress(host)) {
    return `${JSON.stringify(text)}: short name ${JSON.stringify(host)} is not allowed here; give the full name, e.g. ${host}.NAMESPACE.svc.cluster.local`;
  }
  return wildcardDomainError(host);
}

/** Server-side TLS of a Gateway server or Sidecar ingress listener. */
export function checkServerTLS(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  protocol: ReturnType<typeof parseProtocol> | undefined,
): void {
  const tls = c.child(o, key, path, SERVER_TLS_FIELDS);
  const p = fieldPath(path, key);
  if (tls === undefined) {
    if (protocol !== undefined && isTLSProtocol(protocol) && isAbsent(o[key])) {
      c.error(p, `required for protocol ${protocol}`);
    }
    return;
  }
  const redirect = c.bool(tls, 'httpsRedirect', p);
  const mode = c.enumValue(tls, 'mode', p, TLS_MODES);
  if (
    protocol !== undefined &&
    (isHTTPProtocol(protocol) || protocol === 'TCP') &&
    redirect !== true &&
    mode !== undefined
  ) {
    c.error(p, `TLS settings are not allowed on a plain-text ${protocol} port (only httpsRedirect)`);
  }
  for (const k of ['serverCertificate', 'privateKey', 'caCertificates', 'caCrl', 'credentialName']) {
    c.string(tls, k, p);
  }
  for (const k of [
    'credentialNames',
    'subjectAltNames',
    'verifyCertificateSpki',
    'verifyCertificateHash',
    'cipherSuites',
  ]) {
    c.stringList(tls, k, p);
  }
  c.enumValue(tls, 'minProtocolVersion', p, TLS_VERSIONS);
  c.enumValue(tls, 'maxProtocolVersion', p, TLS_VERSIONS);
  checkServerTLSExtras(c, tls, p);
  checkCertificateSources(c, tls, p, mode);
  const set = (k: string) => !isAbsent(tls[k]);
  const credential = set('credentialName') || set('credentialNames');
  if ((mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && !credential) {
    for (const k of ['serverCertificate', 'privateKey']) {
      if (!set(k)) c.error(fieldPath(p, k), `required for ${mode} mode (or set credentialName)`);
    }
    if (mode !== 'SIMPLE' && !set('caCertificates')) {
      c.error(fieldPath(p, 'caCertificates'), `required for ${mode} mode (or set credentialName)`);
    }
  }
}

/**
 * Server TLS fields of Istio's CRD Trellis does not apply yet. Those whose absence only makes
 * the listener stricter are accepted with a warning; those without which the listener would lack
 * its certificate or client CA are refused, with what to write instead.
 */
function checkServerTLSExtras(c: SpecCheck, tls: Obj, p: string): void {
  if (c.bool(tls, 'insecureSkipVerify', p) === true) {
    c.warning(
      fieldPath(p, 'insecureSkipVerify'),
      'accepted but not applied yet: client certificates are still verified against the CA',
    );
  }
  if ((c.stringList(tls, 'ecdhCurves', p) ?? []).length > 0) {
    c.warning(fieldPath(p, 'ecdhCurves'), "accepted but not applied yet: the proxy's default curves apply");
  }
  if (c.string(tls, 'caCertCredentialName', p) !== undefined) {
    c.error(
      fieldPath(p, 'caCertCredentialName'),
      'not supported by Trellis yet: put the client CA in the credentialName Secret (ca.crt) instead',
    );
  }
  if (!isAbsent(tls.tlsCertificates)) {
    c.error(
      fieldPath(p, 'tlsCertificates'),
      'not supported by Trellis yet: give one certificate with serverCertificate/privateKey, or several with credentialNames',
    );
  }
}

const ISTIO_MUTUAL_FORBIDDEN = [
  'serverCertificate',
  'privateKey',
  'caCertificates',
  'tlsCertificates',
  'credentialName',
  'credentialNames',
];

/** Istio's validateTLSOptions: one certificate source, per-mode rules, CRLs, old TLS versions. */
function checkCertificateSources(c: SpecCheck, tls: Obj, p: string, mode: string | undefined): void {
  const set = (k: string) =>
    !isAbsent(tls[k]) && tls[k] !== '' && !(Array.isArray(tls[k]) && tls[k].length === 0);
  const sources = [
    set('serverCertificate') && set('privateKey') ? 'serverCertificate/privateKey' : undefined,
    set('credentialName') ? 'credentialName' : undefined,
    set('credentialNames') ? 'credentialNames' : undefined,
    set('tlsCertificates') ? 'tlsCertificates' : undefined,
  ].filter((x) => x !== undefined);
  if (sources.length > 1) {
    c.error(p, `only one certificate source may be set; found ${sources.join(', ')}`);
  }
  if (mode === 'ISTIO_MUTUAL') {
    for (const k of ISTIO_MUTUAL_FORBIDDEN) {
      if (set(k))
        c.error(fieldPath(p, k), 'cannot be set in ISTIO_MUTUAL mode; the mesh provides certificates');
    }
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    const given = [...ISTIO_MUTUAL_FORBIDDEN, 'caCrl'].filter(set);
    if (given.length > 0) {
      c.warning(p, `${mode} does not terminate TLS: ${given.join(', ')} ignored`);
    }
  }
  if (set('caCrl')) {
    if (set('credentialName')) {
      c.error(
        fieldPath(p, 'caCrl'),
        'cannot be combined with credentialName; put the CRL in the credential Secret instead',
      );
    }
    if (mode === 'SIMPLE')
      c.error(fieldPath(p, 'caCrl'), 'not used with SIMPLE TLS (no client certificates); remove it');
  }
  const min = tls.minProtocolVersion;
  if ((min === 'TLSV1_0' || min === 'TLSV1_1') && !set('cipherSuites')) {
    c.warning(
      fieldPath(p, 'minProtocolVersion'),
      `${min} needs cipherSuites that version supports; the default suites are for TLS 1.2 and 1.3`,
    );
  }
}
