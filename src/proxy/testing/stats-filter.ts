/** The `istio.stats` HTTP filter as the control plane sends it (imported by tests only). */
import { packAny, TYPE } from '../../protocol/protos.js';
import { ISTIO_STATS_FILTER_NAME, ISTIO_STATS_TYPE_URL } from '../../protocol/trellis/istio-stats.js';

/** JSON to google.protobuf.Struct's Value, as proto3 JSON would carry it. */
export function structValue(v: unknown): object {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(structValue) } };
  if (v === null) return { nullValue: 'NULL_VALUE' };
  return { structValue: struct(v as Record<string, unknown>) };
}

export function struct(fields: Record<string, unknown>): object {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, structValue(v)])) };
}

export function statsFilter(fields: Record<string, unknown>): object {
  return {
    name: ISTIO_STATS_FILTER_NAME,
    typed_config: packAny(TYPE.typedStruct, { type_url: ISTIO_STATS_TYPE_URL, value: struct(fields) }),
  };
}
