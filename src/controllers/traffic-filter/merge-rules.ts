/**
 * How a feature's value is laid onto its place in the frame, field by field: objects merge key
 * by key, lists and scalars are replaced whole, a few objects are replaced whole because their
 * fields only mean something together (a mirror's destination, a hash cookie), and setting one
 * member of an Istio one-of clears the others (a filter choosing `consistentHash` replaces the
 * frame's `simple`), so the merged resource stays one Istio accepts.
 */
import { isObject } from '../../api/fields.js';
import {
  RETRY_BUDGET_ANNOTATION,
  TRAFFIC_FILTER_FEATURES,
  type TrafficFilterFeature,
} from '../../api/trellis/traffic-filter.js';
import type { PathStep } from './field-paths.js';

/** One field a filter sets, relative to the place its feature lands (a route, a traffic policy). */
export interface Leaf {
  path: readonly string[];
  value: unknown;
}

/** Replaced whole (paths relative to the place, dot-joined). */
const ATOMIC = new Set(['mirror', 'loadBalancer.consistentHash.httpCookie']);

/** Members of one-ofs, by the dot-joined path of the object holding them. */
const ONE_OF: ReadonlyMap<string, readonly (readonly string[])[]> = new Map([
  [
    '',
    [
      ['mirror', 'mirrors'],
      ['mirrorPercentage', 'mirrorPercent'],
    ],
  ],
  ['fault.abort', [['httpStatus', 'grpcStatus', 'http2Error']]],
  [
    'fault.delay',
    [
      ['percentage', 'percent'],
      ['fixedDelay', 'exponentialDelay'],
    ],
  ],
  ['corsPolicy', [['allowOrigins', 'allowOrigin']]],
  ['loadBalancer', [['simple', 'consistentHash']]],
  [
    'loadBalancer.consistentHash',
    [
      ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'],
      ['ringHash', 'maglev', 'minimumRingSize'],
    ],
  ],
  ['loadBalancer.localityLbSetting', [['distribute', 'failover']]],
]);

/** The one-of group `key` belongs to inside the object at `parent`, if any. */
export function oneOfGroup(parent: readonly string[], key: string): readonly string[] | undefined {
  return ONE_OF.get(parent.join('.'))?.find((g) => g.includes(key));
}

/** The fields a filter's feature sets, relative to where the feature lands. */
export function featureLeaves(feature: TrafficFilterFeature, spec: Record<string, unknown>): Leaf[] {
  if (TRAFFIC_FILTER_FEATURES[feature] === 'annotation') {
    const v = spec[feature];
    return [{ path: [RETRY_BUDGET_ANNOTATION], value: typeof v === 'string' ? v : JSON.stringify(v) }];
  }
  const patch: Record<string, unknown> = { [feature]: spec[feature] };
  if (feature === 'mirror' && spec.mirrorPercentage !== undefined && spec.mirrorPercentage !== null) {
    patch.mirrorPercentage = spec.mirrorPercentage;
  }
  const out: Leaf[] = [];
  flatten(patch, [], out);
  return out;
}

function flatten(value: Record<string, unknown>, at: string[], out: Leaf[]): void {
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    const path = [...at, key];
    if (isObject(v) && Object.keys(v).length > 0 && !ATOMIC.has(path.join('.'))) flatten(v, path, out);
    else out.push({ path, value: v });
  }
}

/**
 * Sets `value` at `place` + `path` inside `root` (a mutable copy), creating objects on the way
 * and clearing the other members of every one-of the path passes through. Returns the absolute
 * paths it cleared (their provenance goes with them).
 */
export function setLeaf(
  root: Record<string, unknown>,
  place: readonly PathStep[],
  path: readonly string[],
  value: unknown,
): PathStep[][] {
  let node = walk(root, place);
  const cleared: PathStep[][] = [];
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as string;
    const group = oneOfGroup(path.slice(0, i), key);
    for (const other of group ?? []) {
      if (other !== key && other in node) {
        delete node[other];
        cleared.push([...place, ...path.slice(0, i), other]);
      }
    }
    if (i === path.length - 1) {
      node[key] = structuredClone(value);
    } else {
      const next = node[key];
      if (!isObject(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
  }
  return cleared;
}

function walk(root: Record<string, unknown>, place: readonly PathStep[]): Record<string, unknown> {
  let node: Record<string | number, unknown> = root;
  for (const step of place) {
    let next = node[step];
    if (next === undefined || next === null) {
      next = {};
      node[step] = next;
    }
    node = next as Record<string | number, unknown>;
  }
  return node;
}

/** Deep equality of JSON values, key order ignored. */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}
