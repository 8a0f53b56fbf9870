/**
 * The `istio.stats` filter's overrides (protocol/trellis/istio-stats.ts, Istio's
 * stats.PluginConfig): which metrics are reported and with which labels. Compiled once per
 * config: per metric, the final label list (Istio's standard labels minus `tags_to_remove`, with
 * `dimensions` added or replaced, in order) and each dimension's CEL program. A dimension whose
 * expression fails or yields no value reports `unknown`, as Istio's does.
 */
import { CelRefused, compileConfigCel } from '../../core/cel-guard.js';
import { STATS_METRICS } from '../../protocol/trellis/istio-stats.js';

export type MetricName = (typeof STATS_METRICS)[keyof typeof STATS_METRICS];
export const METRIC_NAMES: readonly MetricName[] = Object.values(STATS_METRICS);

/** Evaluates to a label value from a request's attributes. */
export type Dimension = (attributes: Record<string, unknown>) => string;

/** A label of a metric: a standard label by its index in the label values, or a dimension. */
export type LabelSource = { name: string; index: number } | { name: string; dimension: Dimension };

export interface MetricLabels {
  labels: readonly LabelSource[];
}

export interface StatsOverrides {
  /** The `reporter` label's value when the config sets one (SERVER_GATEWAY: `waypoint`). */
  reporter?: string;
  /** Metrics reported, with their labels; a dropped metric is absent. */
  metrics: ReadonlyMap<MetricName, MetricLabels>;
  /** Whether any label needs the request's CEL attributes. */
  needsAttributes: boolean;
  /** No metric override at all: the standard series serve (only the reporter may be set). */
  trivial: boolean;
}

export interface OverrideEntry {
  name?: string;
  dimensions?: Readonly<Record<string, string>>;
  tags_to_remove?: readonly string[];
  drop?: boolean;
}

export const REPORTER_VALUES: Readonly<Record<string, string | undefined>> = {
  UNSPECIFIED: undefined,
  CLIENT_SIDE: 'source',
  SERVER_SIDE: 'destination',
  SERVER_GATEWAY: 'waypoint',
};

/**
 * Compiles the overrides against the standard label names (in the order their values come).
 * Throws an Error naming the entry and field of the first expression that does not parse.
 */
export function compileStatsOverrides(
  reporter: string | undefined,
  entries: readonly OverrideEntry[],
  standardLabels: readonly string[],
  path: string,
): StatsOverrides {
  const perMetric = new Map<MetricName, Map<string, LabelSource> | 'drop'>();
  for (const m of METRIC_NAMES)
    perMetric.set(m, new Map(standardLabels.map((name, index) => [name, { name, index }])));
  let needsAttributes = false;
  entries.forEach((entry, i) => {
    const targets = entry.name && entry.name !== 'ALL_METRICS' ? [entry.name as MetricName] : METRIC_NAMES;
    const compiled = Object.entries(entry.dimensions ?? {}).map(([label, expr]) => {
      return {
        name: label,
        dimension: compileDimension(expr, `${path}.metrics[${i}].dimensions["${label}"]`),
      };
    });
    if (compiled.length > 0) needsAttributes = true;
    for (const m of targets) {
      if (entry.drop === true) {
        perMetric.set(m, 'drop');
        continue;
      }
      const labels = perMetric.get(m);
      if (labels === undefined || labels === 'drop') continue; // a dropped metric stays dropped
      for (const tag of entry.tags_to_remove ?? []) labels.delete(tag);
      for (const d of compiled) labels.set(d.name, d);
    }
  });
  const metrics = new Map<MetricName, MetricLabels>();
  for (const [m, labels] of perMetric)
    if (labels !== 'drop') metrics.set(m, { labels: [...labels.values()] });
  return Object.freeze({
    ...(reporter !== undefined ? { reporter } : {}),
    metrics,
    needsAttributes,
    trivial: entries.length === 0,
  });
}

/** A CEL expression compiled once; evaluation failures and empty results give `unknown`. */
export function compileDimension(expr: string, path: string): Dimension {
  let program: (ctx: Record<string, unknown>) => unknown;
  try {
    program = compileConfigCel(expr);
  } catch (err) {
    throw Object.assign(
      new Error(
        `CEL expression ${JSON.stringify(expr)} ${err instanceof CelRefused && err.kind === 'cost' ? 'is refused' : 'does not parse'}: ${(err as Error).message}`,
      ),
      {
        path,
      },
    );
  }
  return (attributes) => {
    try {
      return labelText(program(attributes));
    } catch {
      return 'unknown';
    }
  };
}

function labelText(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v === '' ? 'unknown' : v;
    case 'bigint':
    case 'number':
    case 'boolean':
      return String(v);
    default:
      return 'unknown';
  }
}

/** Label names and values of one metric for one request. */
export function metricLabels(
  labels: MetricLabels,
  values: readonly string[],
  attributes: Record<string, unknown> | undefined,
): [string, string][] {
  return labels.labels.map((l) =>
    'index' in l
      ? [l.name, values[l.index] ?? '']
      : [l.name, attributes ? l.dimension(attributes) : 'unknown'],
  );
}
