/**
 * The Trellis lane filter's xDS shape (issue #13, sandbox lanes): an HTTP filter only Trellis
 * proxies are sent (they say so in node metadata, TRELLIS_FILTERS), configured by an
 * `xds.type.v3.TypedStruct` carrying this type URL and a Struct with the fields below. One
 * definition for the control plane that writes it and the proxy that reads it (and NACKs any
 * field not listed here).
 */
export const LANE_FILTER_NAME = 'trellis.filters.http.lanes';
export const LANE_FILTER_TYPE_URL = 'type.googleapis.com/trellis.filters.http.lanes.v1.Lanes';

/** Node metadata key listing the Trellis HTTP filters a proxy implements, comma-separated. */
export const TRELLIS_FILTERS_METADATA = 'TRELLIS_FILTERS';
/** The name the lane filter has in that list. */
export const LANES_CAPABILITY = 'lanes';

/**
 * Where the connection manager sits: INBOUND remembers the lane of requests to the workload,
 * OUTBOUND carries it (or the workload's own branch) onto the requests the workload makes,
 * GATEWAY takes lanes off requests from outside unless `accept_external`.
 */
export type LaneDirection = 'INBOUND' | 'OUTBOUND' | 'GATEWAY';

/** The Struct's fields, as JSON. */
export interface LaneFilterFields {
  direction: LaneDirection;
  /** OUTBOUND: the workload's branch (label `branch`), sent when a request carries no lane. */
  own_lane?: string;
  /** GATEWAY: keep lanes callers send (the Gateway annotation trellis.io/accept-lanes). */
  accept_external?: boolean;
}

/** The header lanes travel in, and the production branch (a request "in" it is in no lane). */
export const LANE_HEADER = 'x-trellis-lane';
export const PRODUCTION_BRANCH = 'master';

/** A Kubernetes label value (the `branch` label), not empty: at most 63 characters. */
const LANE_RE = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** The lane named by a value, or undefined when it is not a branch name (or is production). */
export function laneName(value: string): string | undefined {
  return LANE_RE.test(value) && value !== PRODUCTION_BRANCH ? value : undefined;
}
