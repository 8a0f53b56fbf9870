/**
 * Sandbox lanes in translation (issue #13). Lane routing itself is plain VirtualService header
 * matches on `x-trellis-lane` (written by hand or by a Router); what this module adds is how a
 * request gets and keeps that header:
 * - Trellis proxies (node metadata TRELLIS_FILTERS lists `lanes`) get the Trellis lane filter on
 *   every HTTP connection manager: INBOUND and OUTBOUND on sidecars (the outbound one with the
 *   workload's own branch, label `branch`), GATEWAY on gateways. It acts before the route is
 *   chosen and carries lanes across hops by trace context (proxy/connection-manager/lanes.ts).
 * - Envoy sidecars in a branch get the first hop only: their outbound route configurations add
 *   `x-trellis-lane: <branch>` when the request has none (ADD_IF_ABSENT), and since Envoy adds
 *   it only after choosing the route, each route matching the own lane gets a twin right after
 *   it matching requests with no lane header. Lanes are not carried across an Envoy sidecar
 *   (the app must forward the header) and a W3C baggage lane is not read. Envoy gateways drop
 *   `x-trellis-lane` from what they forward (the baggage member stays: use a Trellis gateway to
 *   strip it).
 * - Proxyless gRPC has no sidecar: VirtualService header matches apply to the call's metadata,
 *   and the application forwards `x-trellis-lane` itself.
 * A Gateway annotated `trellis.io/accept-lanes: "true"` keeps lanes from outside, when every
 * Gateway the proxy serves says so; otherwise outside callers cannot pick a lane.
 */
import type { HttpFilter, Route, RouteConfiguration } from '../../protocol/envoy-types.js';
import { packAny, TYPE } from '../../protocol/protos.js';
import {
  LANE_FILTER_NAME,
  LANE_FILTER_TYPE_URL,
  LANE_HEADER,
  LANES_CAPABILITY,
  laneName,
  TRELLIS_FILTERS_METADATA,
  type LaneDirection,
  type LaneFilterFields,
} from '../../protocol/trellis/lanes-filter.js';
import type { ProxyNode } from '../proxy-node.js';
import type { PushContext } from './push-context.js';
import { selectGateways } from './virtual-services.js';

/** The workload label naming its branch; absent or `master` is production. */
export const BRANCH_LABEL = 'branch';
/** Gateway annotation: lanes sent by outside callers are kept. */
export const ACCEPT_LANES_ANNOTATION = 'trellis.io/accept-lanes';

/** What a proxy's listeners and routes need to know about lanes: derived per proxy, keyed. */
export interface LanePlan {
  /** The proxy runs the Trellis lane filter. */
  readonly filter: boolean;
  /** The workload's own lane (sidecars in a branch). */
  readonly ownLane?: string;
  /** Gateways: whether lanes from outside are kept. */
  readonly acceptExternal: boolean;
  /** Every input above, for generator keys. */
  readonly key: string;
}

export function runsLaneFilter(proxy: ProxyNode): boolean {
  const listed = proxy.metadata[TRELLIS_FILTERS_METADATA];
  return typeof listed === 'string' && listed.split(',').some((f) => f.trim() === LANES_CAPABILITY);
}

export function lanePlan(push: PushContext, proxy: ProxyNode): LanePlan {
  const filter = proxy.type !== 'grpc' && runsLaneFilter(proxy);
  const branch = proxy.labels[BRANCH_LABEL];
  const ownLane = proxy.type === 'sidecar' && branch !== undefined ? laneName(branch) : undefined;
  let acceptExternal = false;
  if (proxy.type === 'router') {
    const gateways = selectGateways(push, proxy);
    acceptExternal =
      gateways.length > 0 &&
      gateways.every((g) => g.metadata.annotations?.[ACCEPT_LANES_ANNOTATION] === 'true');
  }
  return {
    filter,
    ...(ownLane !== undefined ? { ownLane } : {}),
    acceptExternal,
    key: `${filter ? 'f' : 'r'}:${ownLane ?? ''}:${acceptExternal ? 'a' : ''}`,
  };
}

/** The lane filter for one connection manager, or none when the proxy does not run it. */
export function laneFilters(plan: LanePlan, direction: LaneDirection): HttpFilter[] {
  if (!plan.filter) return [];
  const fields: LaneFilterFields = { direction };
  if (direction === 'OUTBOUND' && plan.ownLane !== undefined) fields.own_lane = plan.ownLane;
  if (direction === 'GATEWAY' && plan.acceptExternal) fields.accept_external = true;
  const value: Record<string, object> = {};
  for (const [k, v] of Object.entries(fields)) {
    value[k] = typeof v === 'boolean' ? { boolValue: v } : { stringValue: String(v) };
  }
  return [
    {
      name: LANE_FILTER_NAME,
      typed_config: packAny(TYPE.typedStruct, { type_url: LANE_FILTER_TYPE_URL, value: { fields: value } }),
    },
  ];
}

/**
 * Route configurations of proxies without the filter (Envoy): a sidecar in a branch adds its
 * lane to requests that have none; a gateway that does not accept lanes drops the header.
 */
export function withLaneHeaders(
  rc: RouteConfiguration,
  plan: LanePlan,
  gateway: boolean,
): RouteConfiguration {
  if (plan.filter) return rc;
  if (gateway) {
    if (plan.acceptExternal) return rc;
    return { ...rc, request_headers_to_remove: [...(rc.request_headers_to_remove ?? []), LANE_HEADER] };
  }
  if (plan.ownLane === undefined) return rc;
  const own = plan.ownLane;
  return {
    ...rc,
    virtual_hosts: (rc.virtual_hosts ?? []).map((vh) => ({
      ...vh,
      routes: (vh.routes ?? []).flatMap((r) => withOwnLaneTwin(r, own)),
    })),
    request_headers_to_add: [
      ...(rc.request_headers_to_add ?? []),
      { header: { key: LANE_HEADER, value: plan.ownLane }, append_action: 'ADD_IF_ABSENT' },
    ],
  };
}

/**
 * A route matching `x-trellis-lane: <own lane>`, and its twin for requests with no lane header
 * (Envoy chooses the route before the route configuration adds the header).
 */
function withOwnLaneTwin(route: Route, lane: string): Route[] {
  const headers = route.match?.headers ?? [];
  const at = headers.findIndex(
    (h) => h.name === LANE_HEADER && h.invert_match !== true && h.string_match?.exact === lane,
  );
  if (at === -1) return [route];
  const absent = { name: LANE_HEADER, present_match: true, invert_match: true };
  const twin: Route = {
    ...route,
    match: { ...route.match, headers: headers.map((h, i) => (i === at ? absent : h)) },
  };
  if (route.name !== undefined) twin.name = `${route.name}-own-lane`;
  return [route, twin];
}
