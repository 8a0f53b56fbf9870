/**
 * Telemetry validation, after Istio's ValidateTelemetry (pkg/config/validation/validation.go) and
 * the CRD's rules: one of selector / targetRef / targetRefs; provider names non-empty; tracing
 * sampling in 0..100, custom tags with a non-empty literal value, header or environment name;
 * one tracing entry and one provider per entry (warnings, as Istio: only the first is used);
 * tag overrides with a value exactly when the operation is UPSERT; customMetric non-empty.
 * Where Istio leaves CEL to Envoy (access log filters, tag override values) Trellis parses the
 * expression here so a typo is reported with its path instead of breaking the proxy's config.
 */
import { configCelRefusal } from '../../core/cel-guard.js';
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { checkWorkloadSelection } from '../security/validate-common.js';
import { METRIC_NAMES, WORKLOAD_MODES } from './types.js';

const FIELDS = ['selector', 'targetRef', 'targetRefs', 'tracing', 'accessLogging', 'metrics'];
const TRACING_FIELDS = [
  'match',
  'providers',
  'randomSamplingPercentage',
  'disableSpanReporting',
  'customTags',
  'useRequestIdForTraceSampling',
  'enableIstioTags',
  'disableContextPropagation',
];
const LOGGING_FIELDS = ['match', 'providers', 'disabled', 'filter'];
const METRICS_FIELDS = ['providers', 'overrides', 'reportingInterval'];
const OVERRIDE_FIELDS = ['match', 'disabled', 'tagOverrides'];

/**
 * Why `expression` is refused (one line: it does not parse, is too large or uses a comprehension,
 * core/cel-guard.ts), or undefined when it is accepted.
 */
export function celParseError(expression: string): string | undefined {
  return configCelRefusal(expression);
}

function checkCel(c: SpecCheck, expression: string, path: string): void {
  const err = celParseError(expression);
  if (err !== undefined) c.error(path, `invalid CEL expression ${JSON.stringify(expression)}: ${err}`);
}

function checkProviders(c: SpecCheck, o: Obj, path: string): number {
  const items = c.list(o, 'providers', path) ?? [];
  for (const item of items) {
    const p = c.object(item.value, item.path, ['name']);
    if (p === undefined) {
      if (isAbsent(item.value)) c.error(item.path, 'must not be null');
      continue;
    }
    c.string(p, 'name', item.path, { required: true });
  }
  return items.length;
}

function checkMode(c: SpecCheck, o: Obj, path: string): void {
  const m = c.child(o, 'match', path, ['mode']);
  if (m !== undefined) c.enumValue(m, 'mode', fieldPath(path, 'match'), WORKLOAD_MODES);
}

function entries(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  allowed: string[],
): { o: Obj; path: string }[] {
  const out: { o: Obj; path: string }[] = [];
  for (const item of c.list(o, key, path) ?? []) {
    const e = c.object(item.value, item.path, allowed);
    if (e !== undefined) out.push({ o: e, path: item.path });
  }
  return out;
}

function checkTracing(c: SpecCheck, spec: Obj, path: string): void {
  const list = entries(c, spec, 'tracing', path, TRACING_FIELDS);
  if (list.length > 1)
    c.warning(
      fieldPath(path, 'tracing'),
      'multiple tracing entries are not supported; later entries override earlier ones',
    );
  for (const { o, path: p } of list) {
    checkMode(c, o, p);
    if (checkProviders(c, o, p) > 1)
      c.warning(fieldPath(p, 'providers'), 'multiple providers are not supported; only the first is used');
    c.number(o, 'randomSamplingPercentage', p, { min: 0, max: 100 });
    c.bool(o, 'disableSpanReporting', p);
    c.bool(o, 'useRequestIdForTraceSampling', p);
    c.bool(o, 'enableIstioTags', p);
    if (!isAbsent(o.disableContextPropagation))
      c.error(
        fieldPath(p, 'disableContextPropagation'),
        'not supported by Trellis proxies; remove it (trace context is always propagated)',
      );
    for (const tag of c.map(o, 'customTags', p) ?? []) checkCustomTag(c, tag.value, tag.path);
  }
}

function checkCustomTag(c: SpecCheck, value: unknown, path: string): void {
  const name = path.slice(path.lastIndexOf('.') + 1);
  if (name === '') c.error(path, 'tag name may not be empty');
  if (isAbsent(value)) {
    c.error(path, 'a tag needs one of literal, environment, header');
    return;
  }
  const t = c.object(value, path, ['literal', 'environment', 'header', 'formatter']);
  if (t === undefined) return;
  if (!isAbsent(t.formatter)) {
    c.error(
      fieldPath(path, 'formatter'),
      'formatter tags are not supported; use literal, environment or header',
    );
    return;
  }
  const kinds = ['literal', 'environment', 'header'].filter((k) => !isAbsent(t[k]));
  if (kinds.length !== 1) {
    c.error(
      path,
      `expected exactly one of literal, environment, header; found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
    );
    return;
  }
  const lit = c.child(t, 'literal', path, ['value']);
  if (lit !== undefined) {
    const v = c.string(lit, 'value', fieldPath(path, 'literal'));
    if (v === undefined || v === '')
      c.error(fieldPath(path, 'literal.value'), 'literal tag value may not be empty');
  }
  for (const k of ['environment', 'header']) {
    const o = c.child(t, k, path, ['name', 'defaultValue']);
    if (o === undefined) continue;
    const n = c.string(o, 'name', fieldPath(path, k));
    c.string(o, 'defaultValue', fieldPath(path, k));
    if (n === undefined || n === '') c.error(fieldPath(path, `${k}.name`), `${k} tag name may not be empty`);
  }
}

function checkAccessLogging(c: SpecCheck, spec: Obj, path: string): void {
  for (const { o, path: p } of entries(c, spec, 'accessLogging', path, LOGGING_FIELDS)) {
    checkMode(c, o, p);
    checkProviders(c, o, p);
    c.bool(o, 'disabled', p);
    const f = c.child(o, 'filter', p, ['expression']);
    if (f === undefined) continue;
    const fp = fieldPath(p, 'filter');
    const expr = c.string(f, 'expression', fp, { required: true });
    if (expr !== undefined && expr !== '') checkCel(c, expr, fieldPath(fp, 'expression'));
  }
}

function checkMetrics(c: SpecCheck, spec: Obj, path: string): void {
  for (const { o, path: p } of entries(c, spec, 'metrics', path, METRICS_FIELDS)) {
    checkProviders(c, o, p);
    c.duration(o, 'reportingInterval', p);
    for (const item of c.list(o, 'overrides', p) ?? []) {
      if (isAbsent(item.value)) {
        c.error(item.path, 'an override may not be null');
        continue;
      }
      const ov = c.object(item.value, item.path, OVERRIDE_FIELDS);
      if (ov === undefined) continue;
      checkOverride(c, ov, item.path);
    }
  }
}

function checkOverride(c: SpecCheck, ov: Obj, path: string): void {
  c.bool(ov, 'disabled', path);
  const m = c.child(ov, 'match', path, ['metric', 'customMetric', 'mode']);
  if (m !== undefined) {
    const mp = fieldPath(path, 'match');
    c.enumValue(m, 'mode', mp, WORKLOAD_MODES);
    c.enumValue(m, 'metric', mp, METRIC_NAMES);
    const custom = c.string(m, 'customMetric', mp);
    if (custom !== undefined && custom === '')
      c.error(fieldPath(mp, 'customMetric'), 'customMetric may not be empty');
    if (!isAbsent(m.metric) && !isAbsent(m.customMetric))
      c.error(mp, 'only one of metric, customMetric may be set');
  }
  for (const tag of c.map(ov, 'tagOverrides', path) ?? []) {
    const name = tag.path.slice(fieldPath(path, 'tagOverrides').length + 1);
    if (name === '') c.warning(tag.path, 'tag name may not be empty');
    if (isAbsent(tag.value)) {
      c.error(tag.path, 'a tag override may not be null');
      continue;
    }
    const t = c.object(tag.value, tag.path, ['operation', 'value']);
    if (t === undefined) continue;
    const op = c.enumValue(t, 'operation', tag.path, ['UPSERT', 'REMOVE']) ?? 'UPSERT';
    const value = c.string(t, 'value', tag.path);
    if (op === 'UPSERT' && (value === undefined || value === ''))
      c.error(fieldPath(tag.path, 'value'), 'must be set when operation is UPSERT');
    else if (op === 'REMOVE' && value !== undefined && value !== '')
      c.error(fieldPath(tag.path, 'value'), 'may only be set when operation is UPSERT');
    else if (op === 'UPSERT' && value !== undefined) checkCel(c, value, fieldPath(tag.path, 'value'));
  }
}

export function validateTelemetry(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const t = c.object(spec, path, FIELDS);
  if (t === undefined) return;
  checkWorkloadSelection(c, t, path);
  checkTracing(c, t, path);
  checkAccessLogging(c, t, path);
  checkMetrics(c, t, path);
}
