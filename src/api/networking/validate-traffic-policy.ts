/**
 * TrafficPolicy validation (DestinationRule and its subsets/ports; Sidecar connection pools),
 * following Istio's validateTrafficPolicy, validateLoadBalancer, validateConnectionPool,
 * validateOutlierDetection and validateTLS.
 */
import { fieldPath, isAbsent, type Obj, type SpecCheck } from '../fields.js';
import { labelKeyError } from '../names.js';
import { checkPortSelector, oneOf } from './validate-common.js';
import {
  checkCookieAttributes,
  checkHttp2KeepAlive,
  checkLoadBalancerExtras,
  checkOutlierErrorCodes,
  checkRetryBudget,
} from './validate-traffic-policy-extras.js';

/** Envoy's limits (RingHashLbConfig.minimum_ring_size, MaglevLbConfig.table_size): larger is NACKed. */
const MAX_RING_SIZE = 8_388_608;
const MAX_MAGLEV_TABLE_SIZE = 5_000_011;

const POLICY_FIELDS = [
  'loadBalancer',
  'connectionPool',
  'outlierDetection',
  'tls',
  'portLevelSettings',
  'tunnel',
  'proxyProtocol',
  'retryBudget',
];
const PORT_POLICY_FIELDS = ['port', 'loadBalancer', 'connectionPool', 'outlierDetection', 'tls'];

export function checkTrafficPolicy(c: SpecCheck, o: Obj, key: string, path: string): void {
  const tp = c.child(o, key, path, POLICY_FIELDS);
  if (tp === undefined) return;
  const p = fieldPath(path, key);
  if (POLICY_FIELDS.every((k) => isAbsent(tp[k]))) c.error(p, 'must set at least one field');
  if (!isAbsent(tp.tunnel) && !isAbsent(tp.proxyProtocol)) {
    c.error(p, 'tunnel and proxyProtocol cannot both be set');
  }
  // Sending traffic elsewhere (a tunnel) or with a PROXY header the upstream expects changes
  // what reaches the destination: refused rather than accepted and not applied.
  for (const unsupported of ['tunnel', 'proxyProtocol']) {
    if (!isAbsent(tp[unsupported])) {
      c.error(
        fieldPath(p, unsupported),
        'not supported by the Trellis proxy; remove it (traffic would otherwise reach the destination differently than written)',
      );
    }
  }
  checkRetryBudget(c, tp, p);
  checkPolicyParts(c, tp, p);

  const seen = new Set<number>();
  for (const item of c.list(tp, 'portLevelSettings', p) ?? []) {
    const pl = c.object(item.value, item.path, PORT_POLICY_FIELDS);
    if (pl === undefined) continue;
    checkPortSelector(c, pl, 'port', item.path, true);
    const port = (pl.port as { number?: unknown } | undefined)?.number;
    if (typeof port === 'number') {
      if (seen.has(port)) c.error(fieldPath(item.path, 'port'), `port ${port} already has settings`);
      seen.add(port);
    }
    if (PORT_POLICY_FIELDS.every((k) => k === 'port' || isAbsent(pl[k]))) {
      c.error(item.path, 'must set at least one of loadBalancer, connectionPool, outlierDetection, tls');
    }
    checkPolicyParts(c, pl, item.path);
  }
}

function checkPolicyParts(c: SpecCheck, o: Obj, path: string): void {
  checkLoadBalancer(c, o, path);
  checkConnectionPool(c, o, 'connectionPool', path);
  checkOutlierDetection(c, o, path);
  checkClientTLS(c, o, path);
}

const SIMPLE_LB = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'];

function checkLoadBalancer(c: SpecCheck, o: Obj, path: string): void {
  const lb = c.child(o, 'loadBalancer', path, [
    'simple',
    'consistentHash',
    'localityLbSetting',
    'zoneAwareLbSetting',
    'warmupDurationSecs',
    'warmup',
    'backendUtilization',
  ]);
  if (lb === undefined) return;
  const p = fieldPath(path, 'loadBalancer');
  // Istio accepts a loadBalancer with neither simple nor consistentHash (the default balancer).
  oneOf(c, lb, ['simple', 'consistentHash'], p);
  c.enumValue(lb, 'simple', p, SIMPLE_LB);
  checkConsistentHash(c, lb, p);
  checkLocality(c, lb, p);
  if (!isAbsent(lb.localityLbSetting) && !isAbsent(lb.zoneAwareLbSetting)) {
    c.error(p, 'only one of localityLbSetting, zoneAwareLbSetting may be set');
  }
  checkLoadBalancerExtras(c, lb, p);
}

function checkConsistentHash(c: SpecCheck, lb: Obj, path: string): void {
  const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'];
  const ch = c.child(lb, 'consistentHash', path, [...keys, 'ringHash', 'maglev', 'minimumRingSize']);
  if (ch === undefined) return;
  const p = fieldPath(path, 'consistentHash');
  oneOf(c, ch, keys, p, { required: true });
  oneOf(c, ch, ['ringHash', 'maglev'], p);
  const header = c.string(ch, 'httpHeaderName', p);
  if (header === '') c.error(fieldPath(p, 'httpHeaderName'), 'must not be empty');
  const cookie = c.child(ch, 'httpCookie', p, ['name', 'path', 'ttl', 'attributes']);
  if (cookie !== undefined) {
    const cp = fieldPath(p, 'httpCookie');
    c.string(cookie, 'name', cp, { required: true });
    c.string(cookie, 'path', cp);
    // A ttl of 0s asks Envoy for a session cookie; Istio requires the field.
    c.duration(cookie, 'ttl', cp, { required: true, allowZero: true });
    checkCookieAttributes(c, cookie, cp);
  }
  const useSourceIp = c.bool(ch, 'useSourceIp', p);
  if (useSourceIp === false) c.error(fieldPath(p, 'useSourceIp'), 'must be true when set');
  const q = c.string(ch, 'httpQueryParameterName', p);
  if (q === '') c.error(fieldPath(p, 'httpQueryParameterName'), 'must not be empty');
  const ring = c.child(ch, 'ringHash', p, ['minimumRingSize']);
  if (ring !== undefined)
    c.int(ring, 'minimumRingSize', fieldPath(p, 'ringHash'), { min: 0, max: MAX_RING_SIZE });
  const maglev = c.child(ch, 'maglev', p, ['tableSize']);
  if (maglev !== undefined) {
    const size = c.int(maglev, 'tableSize', fieldPath(p, 'maglev'), { min: 1, max: MAX_MAGLEV_TABLE_SIZE });
    if (size !== undefined && !isPrime(size)) {
      c.error(
        fieldPath(fieldPath(p, 'maglev'), 'tableSize'),
        `${size} is not a prime number, as Envoy requires`,
      );
    }
  }
  c.deprecated(ch, 'minimumRingSize', p, 'ringHash.minimumRingSize');
  c.int(ch, 'minimumRingSize', p, { min: 0, max: MAX_RING_SIZE });
  if (!isAbsent(ch.minimumRingSize) && (!isAbsent(ch.ringHash) || !isAbsent(ch.maglev))) {
    c.error(fieldPath(p, 'minimumRingSize'), 'cannot be combined with ringHash or maglev');
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** `region/zone/subzone` with `*` only as the last part. */
function localityError(text: string, wildcards: boolean): string | undefined {
  const parts = text.split('/');
  if (text === '' || parts.length > 3 || parts.some((x) => x === '')) {
    return `${JSON.stringify(text)} is not a locality; expected region[/zone[/subzone]]`;
  }
  const star = parts.indexOf('*');
  if (star >= 0 && (!wildcards || star !== parts.length - 1)) {
    return `${JSON.stringify(text)}: '*' is only allowed as the last part`;
  }
  return undefined;
}

function checkLocality(c: SpecCheck, lb: Obj, path: string): void {
  const fields = ['distribute', 'failover', 'failoverPriority', 'enabled'];
  const loc = c.child(lb, 'localityLbSetting', path, fields);
  if (loc === undefined) return;
  const p = fieldPath(path, 'localityLbSetting');
  if (!isAbsent(loc.distribute) && !isAbsent(loc.failover)) {
    c.error(p, 'distribute and failover cannot both be set');
  }
  for (const d of c.list(loc, 'distribute', p) ?? []) {
    const dist = c.object(d.value, d.path, ['from', 'to']);
    if (dist === undefined) continue;
    const from = c.string(dist, 'from', d.path, { required: true });
    if (from !== undefined) {
      const err = localityError(from, true);
      if (err !== undefined) c.error(fieldPath(d.path, 'from'), err);
    }
    let total = 0;
    for (const t of c.map(dist, 'to', d.path, { required: true }) ?? []) {
      const name = t.path.slice(fieldPath(d.path, 'to').length + 1);
      const err = localityError(name, true);
      if (err !== undefined) c.error(t.path, err);
      if (typeof t.value !== 'number' || !Number.isInteger(t.value) || t.value < 0 || t.value > 100) {
        c.error(t.path, 'expected a weight 0..100');
      } else {
        total += t.value;
      }
    }
    if (!isAbsent(dist.to) && total !== 100) {
      c.error(fieldPath(d.path, 'to'), `weights sum to ${total}; they must sum to 100`);
    }
  }
  for (const f of c.list(loc, 'failover', p) ?? []) {
    const fo = c.object(f.value, f.path, ['from', 'to']);
    if (fo === undefined) continue;
    const from = c.string(fo, 'from', f.path, { required: true });
    const to = c.string(fo, 'to', f.path, { required: true });
    for (const [key, v] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (v !== undefined && v.includes('/')) {
        c.error(fieldPath(f.path, key), 'failover is between regions; give a region without zone');
      }
    }
    if (from !== undefined && from === to) c.error(f.path, 'from and to must be different regions');
  }
  for (const k of c.stringList(loc, 'failoverPriority', p) ?? []) {
    const name = k.value.startsWith('!') ? k.value.slice(1) : k.value;
    const err = labelKeyError(name.split('=')[0] ?? '');
    if (err !== undefined) c.error(k.path, err);
  }
  c.bool(loc, 'enabled', p);
}

/** ConnectionPoolSettings; also used by Sidecar ingress and inboundConnectionPool. */
export function checkConnectionPool(c: SpecCheck, o: Obj, key: string, path: string): void {
  const cp = c.child(o, key, path, ['tcp', 'http']);
  if (cp === undefined) return;
  const p = fieldPath(path, key);
  if (isAbsent(cp.tcp) && isAbsent(cp.http)) c.error(p, 'must set at least one of tcp, http');
  const tcp = c.child(cp, 'tcp', p, [
    'maxConnections',
    'connectTimeout',
    'tcpKeepalive',
    'maxConnectionDuration',
    'idleTimeout',
  ]);
  if (tcp !== undefined) {
    const tp = fieldPath(p, 'tcp');
    c.int(tcp, 'maxConnections', tp, { min: 0 });
    c.duration(tcp, 'connectTimeout', tp);
    c.duration(tcp, 'maxConnectionDuration', tp);
    // 0s turns the idle timeout off (Istio skips its check).
    c.duration(tcp, 'idleTimeout', tp, { allowZero: true });
    const ka = c.child(tcp, 'tcpKeepalive', tp, ['probes', 'time', 'interval']);
    if (ka !== undefined) {
      const kp = fieldPath(tp, 'tcpKeepalive');
      c.int(ka, 'probes', kp, { min: 0 });
      c.duration(ka, 'time', kp);
      c.duration(ka, 'interval', kp);
    }
  }
  const http = c.child(cp, 'http', p, [
    'http1MaxPendingRequests',
    'http2MaxRequests',
    'maxRequestsPerConnection',
    'maxRetries',
    'idleTimeout',
    'h2UpgradePolicy',
    'useClientProtocol',
    'maxConcurrentStreams',
    'http2KeepAlive',
  ]);
  if (http !== undefined) {
    const hp = fieldPath(p, 'http');
    for (const k of [
      'http1MaxPendingRequests',
      'http2MaxRequests',
      'maxRequestsPerConnection',
      'maxRetries',
      'maxConcurrentStreams',
    ]) {
      c.int(http, k, hp, { min: 0 });
    }
    c.duration(http, 'idleTimeout', hp);
    const upgrade = c.enumValue(http, 'h2UpgradePolicy', hp, ['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']);
    const useClient = c.bool(http, 'useClientProtocol', hp);
    if (upgrade === 'UPGRADE' && useClient === true) {
      c.error(fieldPath(hp, 'useClientProtocol'), 'must not be true when h2UpgradePolicy is UPGRADE');
    }
    checkHttp2KeepAlive(c, http, hp);
  }
}

function checkOutlierDetection(c: SpecCheck, o: Obj, path: string): void {
  const od = c.child(o, 'outlierDetection', path, [
    'consecutiveErrors',
    'consecutive5xxErrors',
    'consecutiveGatewayErrors',
    'consecutiveLocalOriginFailures',
    'splitExternalLocalOriginErrors',
    'interval',
    'baseEjectionTime',
    'maxEjectionPercent',
    'minHealthPercent',
    'outlierDetectionHttpErrorCodes',
  ]);
  if (od === undefined) return;
  const p = fieldPath(path, 'outlierDetection');
  c.deprecated(od, 'consecutiveErrors', p, 'consecutiveGatewayErrors or consecutive5xxErrors');
  for (const k of [
    'consecutiveErrors',
    'consecutive5xxErrors',
    'consecutiveGatewayErrors',
    'consecutiveLocalOriginFailures',
  ]) {
    c.int(od, k, p, { min: 0 });
  }
  const split = c.bool(od, 'splitExternalLocalOriginErrors', p);
  const localOrigin = od.consecutiveLocalOriginFailures;
  if (typeof localOrigin === 'number' && localOrigin > 0 && split !== true) {
    c.error(
      fieldPath(p, 'consecutiveLocalOriginFailures'),
      'needs splitExternalLocalOriginErrors: true (as Istio requires)',
    );
  }
  checkOutlierErrorCodes(c, od, p);
  c.duration(od, 'interval', p);
  c.duration(od, 'baseEjectionTime', p);
  c.int(od, 'maxEjectionPercent', p, { min: 0, max: 100 });
  c.int(od, 'minHealthPercent', p, { min: 0, max: 100 });
}

function checkClientTLS(c: SpecCheck, o: Obj, path: string): void {
  const tls = c.child(o, 'tls', path, [
    'mode',
    'clientCertificate',
    'privateKey',
    'caCertificates',
    'credentialName',
    'subjectAltNames',
    'sni',
    'insecureSkipVerify',
    'caCrl',
  ]);
  if (tls === undefined) return;
  const p = fieldPath(path, 'tls');
  const mode = c.enumValue(tls, 'mode', p, ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']);
  for (const k of ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'sni', 'caCrl']) {
    c.string(tls, k, p);
  }
  c.stringList(tls, 'subjectAltNames', p);
  c.bool(tls, 'insecureSkipVerify', p);
  const set = (k: string) => !isAbsent(tls[k]);
  if (mode === 'MUTUAL' && !set('credentialName')) {
    if (!set('clientCertificate'))
      c.error(fieldPath(p, 'clientCertificate'), 'required for MUTUAL mode (or set credentialName)');
    if (!set('privateKey'))
      c.error(fieldPath(p, 'privateKey'), 'required for MUTUAL mode (or set credentialName)');
  }
  if (mode === 'ISTIO_MUTUAL') {
    for (const k of ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName']) {
      if (set(k))
        c.error(fieldPath(p, k), 'cannot be set in ISTIO_MUTUAL mode; the mesh provides certificates');
    }
  }
}
