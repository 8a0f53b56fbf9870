/**
 * The TrafficPolicy fields Istio's CRD accepts that the Trellis proxy does not apply yet (slow
 * start, HTTP/2 keepalive, zone-aware balancing, backend utilization, retry budgets, per-code
 * outlier detection): checked as Istio checks them and accepted with a warning saying they are not
 * applied, never silently.
 */
import { fieldPath, isAbsent, type Obj, type SpecCheck } from '../fields.js';
import { labelKeyError } from '../names.js';

/** The warning of a field Istio accepts and Trellis does not apply; `what` says what to expect. */
export function notApplied(c: SpecCheck, path: string, what: string): void {
  c.warning(path, `accepted but not applied yet: ${what}`);
}

/** `loadBalancer.warmup`, `warmupDurationSecs`, `zoneAwareLbSetting`, `backendUtilization`. */
export function checkLoadBalancerExtras(c: SpecCheck, lb: Obj, p: string): void {
  c.duration(lb, 'warmupDurationSecs', p);
  if (!isAbsent(lb.warmupDurationSecs)) {
    notApplied(
      c,
      fieldPath(p, 'warmupDurationSecs'),
      'the Trellis proxy has no slow start; new endpoints get their full share at once',
    );
  }
  const warm = c.child(lb, 'warmup', p, ['duration', 'minimumPercent', 'aggression']);
  if (warm !== undefined) {
    const wp = fieldPath(p, 'warmup');
    c.duration(warm, 'duration', wp, { required: true });
    c.number(warm, 'minimumPercent', wp, { min: 0, max: 100 });
    const aggression = c.number(warm, 'aggression', wp);
    if (aggression !== undefined && aggression <= 0)
      c.error(fieldPath(wp, 'aggression'), 'must be greater than 0');
    notApplied(c, wp, 'the Trellis proxy has no slow start; new endpoints get their full share at once');
  }
  if (!isAbsent(lb.warmup) && !isAbsent(lb.warmupDurationSecs)) {
    c.error(p, 'only one of warmup, warmupDurationSecs may be set');
  }
  const zone = c.child(lb, 'zoneAwareLbSetting', p, [
    'enabled',
    'failover',
    'failoverPriority',
    'minClusterSize',
  ]);
  if (zone !== undefined) {
    const zp = fieldPath(p, 'zoneAwareLbSetting');
    c.bool(zone, 'enabled', zp);
    for (const f of c.list(zone, 'failover', zp) ?? []) {
      const fo = c.object(f.value, f.path, ['from', 'to']);
      if (fo === undefined) continue;
      c.string(fo, 'from', f.path, { required: true });
      c.string(fo, 'to', f.path, { required: true });
    }
    for (const k of c.stringList(zone, 'failoverPriority', zp) ?? []) {
      const name = k.value.startsWith('!') ? k.value.slice(1) : k.value;
      const err = labelKeyError(name.split('=')[0] ?? '');
      if (err !== undefined) c.error(k.path, err);
    }
    c.int(zone, 'minClusterSize', zp, { min: 1 });
    notApplied(c, zp, 'Trellis balances by localityLbSetting only; use it for locality-aware routing');
  }
  const bu = c.child(lb, 'backendUtilization', p, [
    'errorUtilizationPenaltyPercent',
    'metricNamesForComputingUtilization',
    'weightExpirationPeriod',
    'weightStabilizationPeriod',
    'weightUpdatePeriod',
  ]);
  if (bu !== undefined) {
    const bp = fieldPath(p, 'backendUtilization');
    c.int(bu, 'errorUtilizationPenaltyPercent', bp, { min: 0 });
    c.stringList(bu, 'metricNamesForComputingUtilization', bp);
    for (const k of ['weightExpirationPeriod', 'weightStabilizationPeriod', 'weightUpdatePeriod']) {
      c.duration(bu, k, bp, { allowZero: true });
    }
    notApplied(c, bp, 'the Trellis proxy does not read backend load reports; the simple balancer applies');
  }
}

/** `consistentHash.httpCookie.attributes`: names required and unique. */
export function checkCookieAttributes(c: SpecCheck, cookie: Obj, cp: string): void {
  const items = c.list(cookie, 'attributes', cp);
  if (items === undefined) return;
  const names = new Set<string>();
  for (const a of items) {
    const attr = c.object(a.value, a.path, ['name', 'value']);
    if (attr === undefined) continue;
    const name = c.string(attr, 'name', a.path, { required: true });
    c.string(attr, 'value', a.path);
    if (name !== undefined && name !== '') {
      if (names.has(name))
        c.error(fieldPath(a.path, 'name'), `duplicate cookie attribute ${JSON.stringify(name)}`);
      names.add(name);
    }
  }
  if (items.length > 0) {
    notApplied(c, fieldPath(cp, 'attributes'), 'the generated cookie carries only its name, path and ttl');
  }
}

/** `connectionPool.http.http2KeepAlive`: interval and timeout required. */
export function checkHttp2KeepAlive(c: SpecCheck, http: Obj, hp: string): void {
  const ka = c.child(http, 'http2KeepAlive', hp, ['interval', 'timeout']);
  if (ka === undefined) return;
  const kp = fieldPath(hp, 'http2KeepAlive');
  c.duration(ka, 'interval', kp, { required: true });
  c.duration(ka, 'timeout', kp, { required: true });
  notApplied(c, kp, 'the Trellis proxy sends no HTTP/2 PINGs on upstream connections');
}

/** `outlierDetection.outlierDetectionHttpErrorCodes`: HTTP status codes. */
export function checkOutlierErrorCodes(c: SpecCheck, od: Obj, p: string): void {
  const codes = c.list(od, 'outlierDetectionHttpErrorCodes', p);
  if (codes === undefined) return;
  for (const code of codes) {
    if (
      typeof code.value !== 'number' ||
      !Number.isInteger(code.value) ||
      code.value < 100 ||
      code.value > 599
    ) {
      c.error(code.path, 'expected an HTTP status code 100..599');
    }
  }
  if (codes.length > 0) {
    notApplied(
      c,
      fieldPath(p, 'outlierDetectionHttpErrorCodes'),
      'the Trellis proxy counts 5xx and gateway errors only (consecutive5xxErrors, consecutiveGatewayErrors)',
    );
  }
}

/** `trafficPolicy.retryBudget` (Istio 1.26+). */
export function checkRetryBudget(c: SpecCheck, tp: Obj, p: string): void {
  const rb = c.child(tp, 'retryBudget', p, ['percent', 'minRetryConcurrency', 'budgetInterval']);
  if (rb === undefined) return;
  const rp = fieldPath(p, 'retryBudget');
  c.number(rb, 'percent', rp, { min: 0, max: 100 });
  c.int(rb, 'minRetryConcurrency', rp, { min: 0 });
  c.duration(rb, 'budgetInterval', rp);
  notApplied(
    c,
    rp,
    "Trellis's default retry budget applies; set it with the DestinationRule annotation trellis.io/retry-budget",
  );
}
