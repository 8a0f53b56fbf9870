/** Sidecar validation: workload selector, ingress and egress listeners, outbound policy. */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck } from '../fields.js';
import { checkDestination, checkWorkloadSelector } from './validate-common.js';
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
    const l = c.object(item.value, item.path, [
      'port',
      'bind',
      'captureMode',
      'defaultEndpoint',
      'tls',
      'connectionPool',
    ]);
    if (l === undefined) continue;
    if (c.present(l, 'port', item.path)) {
      const protocol = checkServerPort(c, l, item.path, 'sidecar');
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
    c.string(l, 'bind', item.path);
    c.enumValue(l, 'captureMode', item.path, CAPTURE_MODES);
    const endpoint = c.string(l, 'defaultEndpoint', item.path);
    if (
      endpoint !== undefined &&
      !/^(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):\d{1,5}$|^unix:\/\/.+/.test(endpoint)
    ) {
      c.error(
        fieldPath(item.path, 'defaultEndpoint'),
        `${JSON.stringify(endpoint)}: expected 127.0.0.1:PORT, 0.0.0.0:PORT or unix://PATH`,
      );
    }
    if (endpoint?.startsWith('unix://') === true) {
      const err = unixAddressError(endpoint.slice('unix://'.length));
      if (err !== undefined) c.error(fieldPath(item.path, 'defaultEndpoint'), err);
    }
    checkConnectionPool(c, l, 'connectionPool', item.path);
  }

  const egress = c.list(sc, 'egress', path) ?? [];
  let catchAll = 0;
  egress.forEach((item, i) => {
    const l = c.object(item.value, item.path, ['port', 'bind', 'captureMode', 'hosts']);
    if (l === undefined) return;
    if (isAbsent(l.port)) {
      catchAll++;
      if (catchAll > 1) c.error(item.path, 'only one egress listener may leave out port');
      else if (i !== egress.length - 1)
        c.error(item.path, 'the egress listener without port must be the last one');
    } else {
      checkServerPort(c, l, item.path, 'sidecar');
    }
    c.string(l, 'bind', item.path);
    c.enumValue(l, 'captureMode', item.path, CAPTURE_MODES);
    for (const h of c.stringList(l, 'hosts', item.path, { required: true, nonEmpty: true }) ?? []) {
      const err = namespacedHostError(h.value, false);
      if (err !== undefined) c.error(h.path, err);
    }
  });

  const otp = c.child(sc, 'outboundTrafficPolicy', path, ['mode', 'egressProxy']);
  if (otp !== undefined) {
    const op = fieldPath(path, 'outboundTrafficPolicy');
    const mode = c.enumValue(otp, 'mode', op, ['REGISTRY_ONLY', 'ALLOW_ANY']);
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
