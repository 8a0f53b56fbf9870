/**
 * The Trellis lane filter (protocol/trellis/lanes-filter.ts) from its TypedStruct: every field
 * checked, and any field this proxy does not know rejected, so a newer control plane's option is
 * NACKed rather than silently not honoured.
 */
import type { Problems } from '../../core/errors.js';
import { unpackAny, type AnyLike } from '../../protocol/protos.js';
import type { Struct__Output } from '../../protocol/envoy-types.js';
import { LANE_FILTER_TYPE_URL } from '../../protocol/trellis/lanes-filter.js';
import { laneName, type LaneFilterConfig } from '../policy/lanes.js';
import { structToJson } from './convert-common.js';

const DIRECTIONS: ReadonlySet<string> = new Set(['INBOUND', 'OUTBOUND', 'GATEWAY']);
const FIELDS: ReadonlySet<string> = new Set(['direction', 'own_lane', 'accept_external']);

/** The inner type URL of a TypedStruct filter config (to tell Trellis filters apart). */
export function typedStructType(any: AnyLike): { typeUrl: string; value: Struct__Output | undefined } {
  const msg = unpackAny<{ type_url?: string; value?: Struct__Output }>(any);
  return { typeUrl: msg.type_url ?? '', value: msg.value };
}

export function isLaneFilter(typeUrl: string): boolean {
  return typeUrl === LANE_FILTER_TYPE_URL;
}

export function convertLaneFilter(
  value: Struct__Output | undefined,
  path: string,
  problems: Problems,
): LaneFilterConfig | undefined {
  const json = structToJson(value);
  let ok = true;
  const fail = (field: string, message: string) => {
    problems.error(`${path}.${field}`, message);
    ok = false;
  };
  for (const key of Object.keys(json)) {
    if (!FIELDS.has(key))
      fail(key, `unknown lane filter field (this proxy knows ${[...FIELDS].join(', ')}): upgrade the proxy`);
  }
  const direction = json.direction;
  if (typeof direction !== 'string' || !DIRECTIONS.has(direction))
    fail('direction', `must be one of ${[...DIRECTIONS].join(', ')}, got ${JSON.stringify(direction)}`);
  const own = json.own_lane;
  if (own !== undefined && (typeof own !== 'string' || laneName(own) === undefined))
    fail('own_lane', `must be a branch label value other than master, got ${JSON.stringify(own)}`);
  if (own !== undefined && direction !== 'OUTBOUND') fail('own_lane', 'is only for direction OUTBOUND');
  const accept = json.accept_external;
  if (accept !== undefined && typeof accept !== 'boolean')
    fail('accept_external', `must be a boolean, got ${JSON.stringify(accept)}`);
  if (accept !== undefined && direction !== 'GATEWAY')
    fail('accept_external', 'is only for direction GATEWAY');
  if (!ok) return undefined;
  return Object.freeze({
    direction: direction as LaneFilterConfig['direction'],
    ...(typeof own === 'string' ? { ownLane: own } : {}),
    acceptExternal: accept === true,
  });
}
