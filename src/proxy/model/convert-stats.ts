/**
 * The `istio.stats` filter (protocol/trellis/istio-stats.ts) from its TypedStruct: `reporter` and
 * `metrics[]` (name, dimensions, tags_to_remove, drop) checked field by field and compiled
 * (policy/stats-overrides.ts); any other field is NACKed, so an override this proxy would not
 * honour is never silently ignored.
 */
import type { Problems } from '../../core/errors.js';
import type { Struct__Output } from '../../protocol/envoy-types.js';
import { ISTIO_STATS_TYPE_URL } from '../../protocol/trellis/istio-stats.js';
import { LABEL_NAMES } from '../admin/istio-labels.js';
import {
  compileStatsOverrides,
  METRIC_NAMES,
  REPORTER_VALUES,
  type OverrideEntry,
  type StatsOverrides,
} from '../policy/stats-overrides.js';
import { structToJson } from './convert-common.js';

const FIELDS: ReadonlySet<string> = new Set(['reporter', 'metrics']);
const METRIC_FIELDS: ReadonlySet<string> = new Set(['name', 'dimensions', 'tags_to_remove', 'drop']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isStatsFilter(typeUrl: string): boolean {
  return typeUrl === ISTIO_STATS_TYPE_URL;
}

export function convertStatsFilter(
  value: Struct__Output | undefined,
  path: string,
  problems: Problems,
): StatsOverrides | undefined {
  const json = structToJson(value);
  let ok = true;
  const fail = (field: string, message: string) => {
    problems.error(`${path}.${field}`, message);
    ok = false;
  };
  for (const key of Object.keys(json))
    if (!FIELDS.has(key))
      fail(key, `unknown stats filter field (this proxy knows ${[...FIELDS].join(', ')}): upgrade the proxy`);
  const reporter = json.reporter;
  if (reporter !== undefined && (typeof reporter !== 'string' || !(reporter in REPORTER_VALUES)))
    fail(
      'reporter',
      `must be one of ${Object.keys(REPORTER_VALUES).join(', ')}, got ${JSON.stringify(reporter)}`,
    );
  const metrics = json.metrics ?? [];
  const entries: OverrideEntry[] = [];
  if (!Array.isArray(metrics)) fail('metrics', 'must be a list');
  else
    metrics.forEach((m: unknown, i) => {
      const at = `metrics[${i}]`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) return fail(at, 'must be an object');
      const entry = m as Record<string, unknown>;
      for (const key of Object.keys(entry))
        if (!METRIC_FIELDS.has(key))
          fail(
            `${at}.${key}`,
            `unknown metric override field (this proxy knows ${[...METRIC_FIELDS].join(', ')})`,
          );
      const out: OverrideEntry = {};
      if (entry.name !== undefined && entry.name !== '') {
        // ALL_METRICS: the Telemetry API's name for every metric, as an empty name.
        if (entry.name === 'ALL_METRICS') out.name = entry.name;
        else if (typeof entry.name !== 'string' || !(METRIC_NAMES as readonly string[]).includes(entry.name))
          fail(
            `${at}.name`,
            `must be one of ${METRIC_NAMES.join(', ')} (or empty for all), got ${JSON.stringify(entry.name)}`,
          );
        else out.name = entry.name;
      }
      if (entry.drop !== undefined) {
        if (typeof entry.drop !== 'boolean')
          fail(`${at}.drop`, `must be a boolean, got ${JSON.stringify(entry.drop)}`);
        else out.drop = entry.drop;
      }
      if (entry.tags_to_remove !== undefined) {
        const tags = entry.tags_to_remove;
        if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))
          fail(`${at}.tags_to_remove`, 'must be a list of label names');
        else out.tags_to_remove = tags;
      }
      if (entry.dimensions !== undefined) {
        const dims = entry.dimensions;
        if (typeof dims !== 'object' || dims === null || Array.isArray(dims))
          fail(`${at}.dimensions`, 'must be a map of label name to CEL expression');
        else {
          const d: Record<string, string> = {};
          for (const [label, expr] of Object.entries(dims as Record<string, unknown>)) {
            if (!LABEL_NAME.test(label))
              fail(`${at}.dimensions["${label}"]`, 'is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)');
            else if (typeof expr !== 'string' || expr === '')
              fail(`${at}.dimensions["${label}"]`, `must be a CEL expression, got ${JSON.stringify(expr)}`);
            else d[label] = expr;
          }
          out.dimensions = d;
        }
      }
      entries.push(out);
    });
  if (!ok) return undefined;
  try {
    return compileStatsOverrides(REPORTER_VALUES[reporter as string], entries, LABEL_NAMES, path);
  } catch (err) {
    problems.error((err as { path?: string }).path ?? path, (err as Error).message);
    return undefined;
  }
}
