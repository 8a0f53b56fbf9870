/**
 * The editors saved as TrafficFilters: one filter per service and feature, owned by `console`,
 * named `SERVICE-console-FEATURE`. Each form's fields map onto the feature's Istio field shape;
 * a filter patches its host's VirtualService or DestinationRule (its frame), so when the service
 * has none yet the edit writes a plain one beside the filter.
 */
import {
  compact,
  OWNER,
  valueOf,
  type EditPlan,
  type FormValues,
  type ResourceObject,
  type ServiceConfig,
  type ServiceInfo,
} from './model.js';

export interface FieldDef {
  name: string;
  label: string;
  /** Shown in the empty input. */
  placeholder?: string;
  /** A select's options (the first is the default). */
  options?: readonly string[];
}

export interface FeatureForm {
  /** The TrafficFilter feature it writes (`retries`). */
  feature: string;
  title: string;
  frame: 'route' | 'trafficPolicy' | 'none';
  fields: readonly FieldDef[];
  /** The feature's fields of the filter's spec; undefined when every input is empty. */
  toSpec(v: FormValues): Record<string, unknown> | undefined;
}

const pct = (text: string | undefined) => {
  const value = valueOf(text);
  return value === undefined ? undefined : { value };
};

export const FEATURE_FORMS: readonly FeatureForm[] = [
  {
    feature: 'timeout',
    title: 'Timeout',
    frame: 'route',
    fields: [{ name: 'timeout', label: 'Request timeout', placeholder: '2s' }],
    toSpec: (v) => compact({ timeout: valueOf(v.timeout) }),
  },
  {
    feature: 'retries',
    title: 'Retries',
    frame: 'route',
    fields: [
      { name: 'attempts', label: 'Attempts', placeholder: '3' },
      { name: 'perTryTimeout', label: 'Per-try timeout', placeholder: '1s' },
      { name: 'retryOn', label: 'Retry on', placeholder: '5xx,connect-failure' },
    ],
    toSpec: (v) =>
      compact({
        retries: {
          attempts: valueOf(v.attempts),
          perTryTimeout: valueOf(v.perTryTimeout),
          retryOn: valueOf(v.retryOn),
        },
      }),
  },
  {
    feature: 'fault',
    title: 'Fault injection',
    frame: 'route',
    fields: [
      { name: 'delay', label: 'Delay', placeholder: '500ms' },
      { name: 'delayPercent', label: 'Delay %', placeholder: '10' },
      { name: 'abortStatus', label: 'Abort status', placeholder: '503' },
      { name: 'abortPercent', label: 'Abort %', placeholder: '10' },
    ],
    toSpec: (v) =>
      compact({
        fault: {
          delay:
            valueOf(v.delay) === undefined
              ? undefined
              : { fixedDelay: valueOf(v.delay), percentage: pct(v.delayPercent) },
          abort:
            valueOf(v.abortStatus) === undefined
              ? undefined
              : { httpStatus: valueOf(v.abortStatus), percentage: pct(v.abortPercent) },
        },
      }),
  },
  {
    feature: 'mirror',
    title: 'Mirroring',
    frame: 'route',
    fields: [
      { name: 'host', label: 'Mirror to host', placeholder: 'reviews-shadow' },
      { name: 'subset', label: 'Subset', placeholder: 'v2' },
      { name: 'percent', label: 'Mirrored %', placeholder: '100' },
    ],
    toSpec: (v) => {
      const host = valueOf(v.host);
      if (host === undefined) return undefined;
      return compact({ mirror: { host, subset: valueOf(v.subset) }, mirrorPercentage: pct(v.percent) });
    },
  },
  {
    feature: 'rateLimit',
    title: 'Rate limit (local)',
    frame: 'none',
    fields: [
      { name: 'tokensPerFill', label: 'Requests', placeholder: '100' },
      { name: 'fillInterval', label: 'Per', options: ['1s', '1m', '1h', '24h'] },
      { name: 'maxTokens', label: 'Burst', placeholder: '100' },
    ],
    toSpec: (v) =>
      valueOf(v.tokensPerFill) === undefined
        ? undefined
        : compact({
            rateLimit: {
              tokensPerFill: valueOf(v.tokensPerFill),
              fillInterval: valueOf(v.fillInterval) ?? '1s',
              maxTokens: valueOf(v.maxTokens),
            },
          }),
  },
  {
    feature: 'outlierDetection',
    title: 'Circuit breaking (outlier detection)',
    frame: 'trafficPolicy',
    fields: [
      { name: 'consecutive5xxErrors', label: 'Consecutive 5xx', placeholder: '5' },
      { name: 'interval', label: 'Interval', placeholder: '10s' },
      { name: 'baseEjectionTime', label: 'Ejection time', placeholder: '30s' },
      { name: 'maxEjectionPercent', label: 'Max ejected %', placeholder: '50' },
    ],
    toSpec: (v) =>
      compact({
        outlierDetection: {
          consecutive5xxErrors: valueOf(v.consecutive5xxErrors),
          interval: valueOf(v.interval),
          baseEjectionTime: valueOf(v.baseEjectionTime),
          maxEjectionPercent: valueOf(v.maxEjectionPercent),
        },
      }),
  },
  {
    feature: 'connectionPool',
    title: 'Connection pool',
    frame: 'trafficPolicy',
    fields: [
      { name: 'maxConnections', label: 'Max connections', placeholder: '100' },
      { name: 'http1MaxPendingRequests', label: 'Max pending requests', placeholder: '1024' },
      { name: 'http2MaxRequests', label: 'Max requests', placeholder: '1024' },
      { name: 'maxRequestsPerConnection', label: 'Requests per connection', placeholder: '0' },
    ],
    toSpec: (v) =>
      compact({
        connectionPool: {
          tcp: { maxConnections: valueOf(v.maxConnections) },
          http: {
            http1MaxPendingRequests: valueOf(v.http1MaxPendingRequests),
            http2MaxRequests: valueOf(v.http2MaxRequests),
            maxRequestsPerConnection: valueOf(v.maxRequestsPerConnection),
          },
        },
      }),
  },
  {
    feature: 'loadBalancer',
    title: 'Load balancing',
    frame: 'trafficPolicy',
    fields: [
      {
        name: 'simple',
        label: 'Algorithm',
        options: ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH'],
      },
    ],
    toSpec: (v) => compact({ loadBalancer: { simple: valueOf(v.simple) } }),
  },
];

/** `outlierDetection` -> `outlier-detection`. */
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function filterName(service: ServiceInfo, feature: string): string {
  return `${service.name}-console-${kebab(feature)}`;
}

/** A VirtualService routing the host as it is, for a route feature to patch. */
export function plainVirtualService(service: ServiceInfo): ResourceObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: service.name, namespace: service.namespace },
    spec: {
      hosts: [service.host],
      http: [{ name: 'default', route: [{ destination: { host: service.host } }] }],
    },
  };
}

/** A DestinationRule with no policy yet, for a traffic policy feature to patch. */
export function plainDestinationRule(service: ServiceInfo): ResourceObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: service.name, namespace: service.namespace },
    spec: { host: service.host },
  };
}

/** The resources a feature form saves: its TrafficFilter, and the frame when the host has none. */
export function featureEdit(
  form: FeatureForm,
  service: ServiceInfo,
  config: ServiceConfig,
  values: FormValues,
): EditPlan {
  const spec = form.toSpec(values);
  if (spec === undefined)
    return {
      ok: false,
      message: `fill in ${form.title.toLowerCase()} first, or remove the filter to turn it off`,
    };
  const filter: ResourceObject = {
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'TrafficFilter',
    metadata: { name: filterName(service, form.feature), namespace: service.namespace },
    spec: { target: { host: service.host }, owner: OWNER, ...spec },
  };
  const frames: ResourceObject[] = [];
  // A Router writes the host's VirtualService and DestinationRule itself: they are its frame.
  if (config.router === undefined) {
    if (form.frame === 'route' && config.virtualService === undefined)
      frames.push(plainVirtualService(service));
    if (form.frame === 'trafficPolicy' && config.destinationRule === undefined)
      frames.push(plainDestinationRule(service));
  }
  return { ok: true, resources: [...frames, filter] };
}
