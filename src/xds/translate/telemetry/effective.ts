/**
 * The effective telemetry of a proxy for one side (CLIENT: sidecar outbound and gateways;
 * SERVER: sidecar inbound), merged from the applicable Telemetries (select.ts) over the mesh
 * config's defaults with Istio's rules (pilot/pkg/model/telemetry.go: Tracing, mergeLogs,
 * mergeMetrics). Pure: a table test drives it.
 *
 * - Tracing: the first default tracing provider, then each tracing entry in order, those whose
 *   match.mode covers the side overriding provider (first named), disableSpanReporting,
 *   customTags (whole map), randomSamplingPercentage, useRequestIdForTraceSampling,
 *   enableIstioTags. Without any Telemetry tracing nor a default provider: `legacy`.
 * - Access logging: the providers named last (by any level) are in scope, else the defaults;
 *   each entry matching the side sets its providers (or the parent's) to its filter, or to
 *   disabled (an entry's own filter applies even when it inherits its providers: Istio would
 *   drop it). Without any Telemetry logging nor a default provider: `legacy` (accessLogFile).
 * - Metrics: the providers named last, else the defaults (prometheus); overrides accumulate per
 *   metric and side, tag overrides by name; ALL_METRICS disabled drops the side's filter.
 */
import type { CustomTag, MetricName, TelemetrySpec, WorkloadMode } from '../../../api/telemetry/types.js';
import type { MeshTelemetry, TelemetryProvider } from '../../../api/telemetry/mesh-telemetry.js';

export type Side = 'CLIENT' | 'SERVER';

export interface TracingSpec {
  provider?: TelemetryProvider;
  disabled: boolean;
  /** Percent; undefined: the mesh config's `defaultConfig.tracing.sampling`. */
  sampling?: number;
  customTags?: Readonly<Record<string, CustomTag>>;
  useRequestIdForTraceSampling: boolean;
  enableIstioTags: boolean;
}

export interface LoggingSpec {
  provider: TelemetryProvider;
  disabled: boolean;
  filter?: string;
}

export interface MetricOverride {
  /** A MetricName other than ALL_METRICS, or a custom metric's name. */
  metric: string;
  disabled: boolean;
  /** Tag name -> CEL value, or null to remove; sorted by name. */
  tags: readonly { name: string; value: string | null }[];
}

export interface MetricsSpec {
  provider: TelemetryProvider;
  /** No stats filter on this side at all. */
  disabled: boolean;
  overrides: readonly MetricOverride[];
}

const STANDARD: readonly MetricName[] = [
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
];

function covers(mode: WorkloadMode | undefined, side: Side): boolean {
  return mode === undefined || mode === 'CLIENT_AND_SERVER' || mode === side;
}

function provider(mesh: MeshTelemetry, name: string | undefined): TelemetryProvider | undefined {
  if (name === undefined) return undefined;
  // Istio compares provider names case-insensitively (fetchProvider, strings.EqualFold).
  return mesh.providers.find((p) => p.name.toLowerCase() === name.toLowerCase());
}

const names = (ps: readonly { name: string }[] | undefined): string[] => (ps ?? []).map((p) => p.name);

/** undefined: no Telemetry nor default provider says anything (the legacy mesh fields apply). */
export function effectiveTracing(
  specs: readonly TelemetrySpec[],
  mesh: MeshTelemetry,
  side: Side,
): TracingSpec | undefined {
  const entries = specs.flatMap((s) => s.tracing ?? []);
  const defaults = mesh.defaultProviders.tracing;
  if (entries.length === 0 && defaults.length === 0) return undefined;
  const spec: TracingSpec = {
    provider: provider(mesh, defaults[0]),
    disabled: false,
    useRequestIdForTraceSampling: true,
    enableIstioTags: true,
  };
  for (const t of entries) {
    if (!covers(t.match?.mode, side)) continue;
    const n = names(t.providers);
    if (n.length > 0) spec.provider = provider(mesh, n[0]);
    if (t.disableSpanReporting !== undefined) spec.disabled = t.disableSpanReporting;
    if (t.customTags !== undefined) spec.customTags = t.customTags;
    if (t.randomSamplingPercentage !== undefined) spec.sampling = t.randomSamplingPercentage;
    if (t.useRequestIdForTraceSampling !== undefined)
      spec.useRequestIdForTraceSampling = t.useRequestIdForTraceSampling;
    if (t.enableIstioTags !== undefined) spec.enableIstioTags = t.enableIstioTags;
  }
  if (spec.provider === undefined) spec.disabled = true;
  return spec;
}

/** undefined: legacy (`accessLogFile`); otherwise one entry per provider, sorted by name. */
export function effectiveLogging(
  specs: readonly TelemetrySpec[],
  mesh: MeshTelemetry,
  side: Side,
): LoggingSpec[] | undefined {
  const levels = specs.map((s) => s.accessLogging ?? []).filter((l) => l.length > 0);
  const defaults = mesh.defaultProviders.accessLogging;
  if (levels.length === 0 && defaults.length === 0) return undefined;
  const chosen = new Map<string, { disabled: boolean; filter?: string }>();
  if (levels.length === 0) {
    for (const d of defaults) chosen.set(d, { disabled: false });
  } else {
    let inScope = [...defaults];
    const filters = new Map<string, string | undefined>();
    for (const level of levels) {
      const named = new Set<string>();
      for (const l of level) {
        if (!covers(l.match?.mode, side)) continue;
        for (const n of names(l.providers)) {
          named.add(n);
          filters.set(n, l.filter?.expression);
        }
      }
      if (named.size > 0) inScope = [...named];
    }
    let parent = [...defaults];
    for (const level of levels) {
      for (const l of level) {
        let ns = names(l.providers);
        if (ns.length === 0) ns = parent;
        parent = ns;
        for (const n of ns) {
          if (!inScope.includes(n) || !covers(l.match?.mode, side)) continue;
          if (l.disabled === true) chosen.set(n, { disabled: true });
          else {
            // Istio keeps only the filter of the entry that named the provider, dropping the
            // filter of an entry that inherits its providers; Trellis applies the entry's own.
            const f = l.filter?.expression ?? filters.get(n);
            chosen.set(n, f === undefined || f === '' ? { disabled: false } : { disabled: false, filter: f });
          }
        }
      }
    }
  }
  const out: LoggingSpec[] = [];
  for (const [n, v] of chosen) {
    const p = provider(mesh, n);
    if (p === undefined || p.kind !== 'envoyFileAccessLog') continue;
    out.push({ provider: p, ...v });
  }
  return out.sort((a, b) => a.provider.name.localeCompare(b.provider.name));
}

interface Acc {
  disabled?: boolean;
  tags: Map<string, string | null>;
}

/** One entry per metrics provider in scope (only prometheus providers make a filter). */
export function effectiveMetrics(
  specs: readonly TelemetrySpec[],
  mesh: MeshTelemetry,
  side: Side,
): MetricsSpec[] {
  const entries = specs.flatMap((s) => s.metrics ?? []);
  let providerNames = [...mesh.defaultProviders.metrics];
  for (const m of entries) if (names(m.providers).length > 0) providerNames = names(m.providers);
  const perProvider = new Map<string, { allDisabled: boolean; metrics: Map<string, Acc> }>();
  for (const p of providerNames) perProvider.set(p, { allDisabled: false, metrics: new Map() });
  let parent = [...mesh.defaultProviders.metrics];
  for (const m of entries) {
    let ns = names(m.providers);
    if (ns.length === 0) ns = parent;
    parent = ns;
    for (const n of ns) {
      const acc = perProvider.get(n);
      if (acc === undefined) continue;
      for (const o of m.overrides ?? []) {
        if (!covers(o.match?.mode, side)) continue;
        const custom = o.match?.customMetric;
        const metric = o.match?.metric;
        const all = custom === undefined && (metric === undefined || metric === 'ALL_METRICS');
        if (all && o.disabled === true) {
          acc.allDisabled = true;
          continue;
        }
        acc.allDisabled = false;
        const targets = custom !== undefined ? [custom] : all ? STANDARD : [metric as string];
        for (const t of targets) {
          const cur: Acc = acc.metrics.get(t) ?? { tags: new Map<string, string | null>() };
          if (o.disabled !== undefined) cur.disabled = o.disabled;
          for (const [tag, v] of Object.entries(o.tagOverrides ?? {}))
            cur.tags.set(tag, v.operation === 'REMOVE' ? null : (v.value ?? ''));
          acc.metrics.set(t, cur);
        }
      }
    }
  }
  const out: MetricsSpec[] = [];
  for (const [n, acc] of perProvider) {
    const p = provider(mesh, n);
    if (p === undefined || p.kind !== 'prometheus') continue;
    const overrides = [...acc.metrics.entries()]
      .map(([metric, a]) => ({
        metric,
        disabled: a.disabled ?? false,
        tags: [...a.tags.entries()]
          .map(([name, value]) => ({ name, value }))
          .sort((x, y) => x.name.localeCompare(y.name)),
      }))
      .sort((x, y) => x.metric.localeCompare(y.metric));
    out.push({ provider: p, disabled: acc.allDisabled, overrides });
  }
  return out.sort((a, b) => a.provider.name.localeCompare(b.provider.name));
}
