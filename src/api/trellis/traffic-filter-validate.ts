/**
 * TrafficFilter validation (traffic-filter.ts has the schema). The feature is checked by the
 * VirtualService and DestinationRule validators themselves, on the feature alone, so a filter
 * accepts exactly what Istio accepts in that place and its errors read `spec.retries.attempts`.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { dns1123LabelError } from '../names.js';
import { checkHost, checkName } from '../networking/validate-common.js';
import { checkHTTPRoute } from '../networking/validate-http-route.js';
import { checkTrafficPolicy } from '../networking/validate-traffic-policy.js';
import {
  FEATURE_NAMES,
  FILL_INTERVAL_UNITS,
  TRAFFIC_FILTER_FEATURES,
  type TrafficFilterFeature,
} from './traffic-filter.js';

const FIELDS = ['target', 'owner', 'priority', ...FEATURE_NAMES, 'mirrorPercentage'] as const;
const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };
/** Envoy counts tokens in a uint32. */
const MAX_TOKENS = 0xffffffff;

/** A route that only exists so the route validator has something to forward to. */
const PLACEHOLDER_ROUTE = [{ destination: { host: 'placeholder' } }];

export function validateTrafficFilter(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const tf = c.object(spec, path, FIELDS);
  if (tf === undefined) return;
  const owner = c.string(tf, 'owner', path, { required: true });
  if (owner !== undefined && owner.trim() === '') c.error(fieldPath(path, 'owner'), 'must not be blank');
  c.int(tf, 'priority', path, INT32);

  const features = FEATURE_NAMES.filter((f) => !isAbsent(tf[f]));
  if (features.length === 0) {
    c.error(
      path,
      `set exactly one feature to patch: ${FEATURE_NAMES.join(', ')}${isAbsent(tf.mirrorPercentage) ? '' : ' (mirrorPercentage goes with mirror)'}`,
    );
  } else if (features.length > 1) {
    c.error(
      path,
      `a TrafficFilter patches exactly one feature, found ${features.join(', ')}: write one TrafficFilter per feature`,
    );
  }
  if (!isAbsent(tf.mirrorPercentage) && isAbsent(tf.mirror)) {
    c.error(fieldPath(path, 'mirrorPercentage'), 'only together with mirror (the destination it applies to)');
  }
  const feature = features.length === 1 ? features[0] : undefined;
  checkTarget(c, tf, path, feature);
  for (const f of features) checkFeature(c, tf, f, path);
}

function checkTarget(c: SpecCheck, tf: Obj, path: string, feature: TrafficFilterFeature | undefined): void {
  const target = c.child(tf, 'target', path, ['host', 'route', 'subset'], { required: true });
  if (target === undefined) return;
  const p = fieldPath(path, 'target');
  const host = c.string(target, 'host', p, { required: true });
  if (host !== undefined) {
    if (host.includes('*')) {
      c.error(fieldPath(p, 'host'), 'must name one service host, without wildcards');
    } else checkHost(c, host, fieldPath(p, 'host'));
  }
  const route = c.string(target, 'route', p);
  if (route === '') c.error(fieldPath(p, 'route'), 'must not be empty; leave it out to patch every route');
  const subset = c.string(target, 'subset', p);
  if (subset !== undefined) checkName(c, subset, fieldPath(p, 'subset'), dns1123LabelError);
  if (feature === undefined) return;
  const frame = TRAFFIC_FILTER_FEATURES[feature];
  if (route !== undefined && frame !== 'route') {
    c.error(
      fieldPath(p, 'route'),
      `${feature} is not a route feature (${routeFeatures().join(', ')}); leave route out${frame === 'trafficPolicy' ? ', or name a subset' : ''}`,
    );
  }
  if (subset !== undefined && frame !== 'trafficPolicy') {
    c.error(
      fieldPath(p, 'subset'),
      `${feature} is not a DestinationRule traffic policy feature (outlierDetection, connectionPool, loadBalancer); leave subset out${frame === 'route' ? ', or name a route' : ''}`,
    );
  }
}

function routeFeatures(): string[] {
  return FEATURE_NAMES.filter((f) => TRAFFIC_FILTER_FEATURES[f] === 'route');
}

function checkFeature(c: SpecCheck, tf: Obj, feature: TrafficFilterFeature, path: string): void {
  switch (TRAFFIC_FILTER_FEATURES[feature]) {
    case 'route': {
      const route: Obj = { route: PLACEHOLDER_ROUTE, [feature]: tf[feature] };
      if (feature === 'mirror' && !isAbsent(tf.mirrorPercentage))
        route.mirrorPercentage = tf.mirrorPercentage;
      checkHTTPRoute(c, route, path, { delegateVirtualService: false });
      return;
    }
    case 'trafficPolicy':
      checkTrafficPolicy(c, { spec: { [feature]: tf[feature] } }, path, '');
      return;
    case 'annotation':
      checkRetryBudget(c, tf, path);
      return;
    case 'rateLimit':
      checkRateLimit(c, tf, path);
      return;
  }
}

function checkRetryBudget(c: SpecCheck, tf: Obj, path: string): void {
  const p = fieldPath(path, 'retryBudget');
  if (typeof tf.retryBudget === 'string') {
    if (tf.retryBudget !== 'off') {
      c.error(
        p,
        `expected off or {budgetPercent, minRetryConcurrency}, got ${JSON.stringify(tf.retryBudget)}`,
      );
    }
    return;
  }
  const rb = c.child(tf, 'retryBudget', path, ['budgetPercent', 'minRetryConcurrency']);
  if (rb === undefined) return;
  c.number(rb, 'budgetPercent', p, { min: 0, max: 100 });
  c.int(rb, 'minRetryConcurrency', p, { min: 0, max: MAX_TOKENS });
}

function checkRateLimit(c: SpecCheck, tf: Obj, path: string): void {
  const rl = c.child(tf, 'rateLimit', path, ['tokensPerFill', 'fillInterval', 'maxTokens']);
  if (rl === undefined) return;
  const p = fieldPath(path, 'rateLimit');
  const tokens = c.int(rl, 'tokensPerFill', p, { required: true, min: 1, max: MAX_TOKENS });
  const interval = c.duration(rl, 'fillInterval', p, { required: true });
  if (interval !== undefined && !FILL_INTERVAL_UNITS.has(interval)) {
    c.error(
      fieldPath(p, 'fillInterval'),
      'the local rate limit refills once per second, minute, hour or day: use 1s, 1m, 1h or 24h and scale tokensPerFill',
    );
  }
  const max = c.int(rl, 'maxTokens', p, { min: 1, max: MAX_TOKENS });
  if (tokens !== undefined && max !== undefined && max < tokens) {
    c.error(
      fieldPath(p, 'maxTokens'),
      `must be at least tokensPerFill (${tokens}): the bucket holds a whole fill`,
    );
  }
}
