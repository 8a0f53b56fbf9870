/**
 * Sandbox lanes in the connection manager (issue #13): before a request's route is chosen, the
 * lane filter of its connection manager decides which lane it is in and writes it as the one
 * `x-trellis-lane` header routes match (VirtualService header matches, placed before production):
 * - INBOUND (requests to the workload): the lane the request carries is remembered by its trace
 *   keys, so the workload's own calls made while serving it can be put in the same lane; a request
 *   in no lane makes its keys forget any lane.
 * - OUTBOUND (requests the workload makes): the lane the request carries, else the one remembered
 *   for its trace keys, else the workload's own branch; `x-trellis-lane: master` asks for
 *   production explicitly (a sandboxed workload calling production).
 * - GATEWAY: requests from outside lose any lane they carry (header and baggage member), unless
 *   the gateway accepts them.
 * A lane header that names no lane (repeated, malformed) is removed, so what routes see is one
 * well-formed lane or none; a lane with no route of its own falls through to production.
 */
import type { LaneCounter, LaneMemory } from '../policy/lane-memory.js';
import {
  BAGGAGE_HEADER,
  carriesLane,
  LANE_HEADER,
  readLane,
  traceKeys,
  withoutLaneMember,
  type LaneFilterConfig,
} from '../policy/lanes.js';
import type { HttpConnectionManagerConfig } from '../model/config.js';
import type { HeaderMap } from './downstream.js';

/** Counter names under `trellis_lanes.` (Prometheus: `envoy_trellis_lanes_<name>`). */
export type LaneCount = (name: string) => void;

/** The lane filter of a connection manager, if it has one. */
export function laneFilterOf(hcm: HttpConnectionManagerConfig | undefined): LaneFilterConfig | undefined {
  if (hcm === undefined) return undefined;
  // Asked once per request: found once per connection manager config (configs are immutable).
  if (laneFilters.has(hcm)) return laneFilters.get(hcm);
  let found: LaneFilterConfig | undefined;
  for (const f of hcm.httpFilters) if (f.kind === 'lanes') found = found ?? f.lanes;
  laneFilters.set(hcm, found);
  return found;
}

const laneFilters = new WeakMap<HttpConnectionManagerConfig, LaneFilterConfig | undefined>();

/**
 * Applies a lane filter to a request's headers, in place (they are what routes and the upstream
 * see). Returns the lane the request is in, if any.
 */
export function applyLaneFilter(
  headers: HeaderMap,
  config: LaneFilterConfig,
  memory: LaneMemory,
  count: LaneCount,
): string | undefined {
  if (config.direction === 'GATEWAY' && !config.acceptExternal) {
    if (carriesLane(headers)) {
      stripLane(headers);
      count('stripped');
    }
    return undefined;
  }
  const reading = readLane(headers);
  if (reading.invalidHeader) {
    delete headers[LANE_HEADER];
    count('invalid');
  }
  let lane = reading.lane;
  if (config.direction === 'INBOUND') {
    const keys = traceKeys(headers);
    const memo: LaneCounter = count;
    if (lane !== undefined) memory.remember(keys, lane, memo);
    else memory.forget(keys, memo);
  } else if (config.direction === 'OUTBOUND' && lane === undefined && reading.production !== true) {
    lane = memory.recall(traceKeys(headers), count);
    if (lane === undefined && config.ownLane !== undefined) {
      lane = config.ownLane;
      count('entered');
    }
  }
  if (lane !== undefined) headers[LANE_HEADER] = lane;
  return lane;
}

function stripLane(headers: HeaderMap): void {
  delete headers[LANE_HEADER];
  const baggage = headers[BAGGAGE_HEADER];
  if (baggage === undefined) return;
  const kept = withoutLaneMember(baggage);
  if (kept === undefined) delete headers[BAGGAGE_HEADER];
  else headers[BAGGAGE_HEADER] = kept;
}
