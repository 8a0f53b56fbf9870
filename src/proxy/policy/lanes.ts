/**
 * Sandbox lanes (issue #13): which lane a request is in, read from the Trellis header
 * `x-trellis-lane` or the W3C `baggage` member `trellis-lane`, and the trace context the sidecar
 * remembers it by (W3C `traceparent`, B3, `x-request-id`: the headers Istio asks apps to forward).
 * Pure functions over a request's headers; lane-memory.ts keeps lanes between requests, and
 * connection-manager/lanes.ts applies both to a request before its route is chosen.
 *
 * Reading is strict (a lane is a label value; baggage within W3C's limits, or ignored whole);
 * stripping at a gateway is lenient (any member that might be read as the lane goes), so no
 * spelling gets past the gateway that a sidecar would later honour.
 */
import { LANE_HEADER, laneName, PRODUCTION_BRANCH } from '../../protocol/trellis/lanes-filter.js';

export { LANE_HEADER, laneName, PRODUCTION_BRANCH };

export const BAGGAGE_HEADER = 'baggage';
export const LANE_BAGGAGE_KEY = 'trellis-lane';

/** W3C Baggage: what a platform must propagate at least; beyond it the header is ignored. */
export const BAGGAGE_MAX_BYTES = 8192;
export const BAGGAGE_MAX_MEMBERS = 64;
/** x-request-id values longer than this are not remembered by (a UUID is 36). */
const REQUEST_ID_MAX = 128;

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type LaneSource = 'header' | 'baggage';

export interface LaneReading {
  lane?: string;
  source?: LaneSource;
  /** A lane header was present but not one lane (repeated, empty, not a label value). */
  invalidHeader: boolean;
  /** The lane header says production (`master`): no lane, and none is to be added. */
  production?: true;
}

/**
 * The lane a request carries: the lane header when it names one lane, else the baggage member.
 * A repeated header (an array, or values joined by a comma) names no lane, whatever it repeats.
 */
export function readLane(headers: Headers): LaneReading {
  const raw = headers[LANE_HEADER];
  let invalidHeader = false;
  if (raw !== undefined) {
    const lane = typeof raw === 'string' ? laneName(raw.trim()) : undefined;
    if (lane !== undefined) return { lane, source: 'header', invalidHeader };
    // `master` names production: a valid header that selects no lane, and no baggage either.
    if (typeof raw === 'string' && raw.trim() === PRODUCTION_BRANCH)
      return { invalidHeader, production: true };
    invalidHeader = true;
  }
  const fromBaggage = baggageLane(headers[BAGGAGE_HEADER]);
  return fromBaggage === undefined
    ? { invalidHeader }
    : { lane: fromBaggage, source: 'baggage', invalidHeader };
}

/** RFC 7230 token characters: what a baggage key may be made of. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** W3C baggage-octet: printable ASCII but space, `"`, `,`, `;` and `\`. */
const VALUE_RE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/**
 * The `trellis-lane` member of W3C baggage (several headers are one list). Undefined when absent,
 * when the baggage is over W3C's limits or malformed anywhere (W3C: a list that fails to parse
 * may be discarded whole), or when the member appears twice with different values.
 */
export function baggageLane(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value.join(',');
  if (Buffer.byteLength(text) > BAGGAGE_MAX_BYTES) return undefined;
  const members = text.split(',');
  if (members.length > BAGGAGE_MAX_MEMBERS) return undefined;
  let lane: string | undefined;
  for (const member of members) {
    const pair = member.split(';', 1)[0]!.trim();
    if (pair === '' && member.trim() === '') continue; // tolerated: `a=1,,b=2`
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const key = pair.slice(0, eq).trim();
    const encoded = pair.slice(eq + 1).trim();
    if (!TOKEN_RE.test(key) || !VALUE_RE.test(encoded)) return undefined;
    if (key !== LANE_BAGGAGE_KEY) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(encoded);
    } catch {
      return undefined;
    }
    const named = laneName(decoded);
    if (named === undefined || (lane !== undefined && lane !== named)) return undefined;
    lane = named;
  }
  return lane;
}

/**
 * Baggage without any member that could be read as the lane (keys compared without case and
 * surrounding space, malformed or not): what a gateway forwards from outside. Undefined when
 * nothing is left.
 */
export function withoutLaneMember(value: string | string[]): string | undefined {
  const lists = typeof value === 'string' ? [value] : value;
  const kept: string[] = [];
  for (const list of lists) {
    for (const member of list.split(',')) {
      if (memberKey(member) === LANE_BAGGAGE_KEY || member.trim() === '') continue;
      kept.push(member.trim());
    }
  }
  return kept.length === 0 ? undefined : kept.join(',');
}

/** Whether a request carries anything a gateway must strip before trusting it. */
export function carriesLane(headers: Headers): boolean {
  if (headers[LANE_HEADER] !== undefined) return true;
  const baggage = headers[BAGGAGE_HEADER];
  if (baggage === undefined) return false;
  const lists = typeof baggage === 'string' ? [baggage] : baggage;
  return lists.some((list) => list.split(',').some((m) => memberKey(m) === LANE_BAGGAGE_KEY));
}

/** A member's key as stripping compares it: before `=` or `;`, trimmed, lower case. */
function memberKey(member: string): string {
  return member.split(/[=;]/, 1)[0]!.trim().toLowerCase();
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
const B3_ID_RE = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const B3_SINGLE_RE = /^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}/;
const REQUEST_ID_RE = /^[\x21-\x7e]+$/;

function single(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v.trim() : undefined;
}

/**
 * The keys a request's trace context is remembered by, most specific first: the W3C trace id,
 * the B3 trace id (from `x-b3-traceid` or the single `b3` header) and `x-request-id`. Malformed
 * or repeated values give no key (W3C: version ff and an all-zero trace id are invalid).
 */
export function traceKeys(headers: Headers): string[] {
  const keys: string[] = [];
  const tp = TRACEPARENT_RE.exec(single(headers.traceparent)?.toLowerCase() ?? '');
  if (tp && tp[1] !== 'ff' && !/^0+$/.test(tp[2]!)) keys.push(`w3c:${tp[2]}`);
  const b3 = single(headers['x-b3-traceid'])?.toLowerCase();
  const b3Single = B3_SINGLE_RE.exec(single(headers.b3)?.toLowerCase() ?? '')?.[1];
  const b3Id = b3 !== undefined && B3_ID_RE.test(b3) ? b3 : b3Single;
  if (b3Id !== undefined && !/^0+$/.test(b3Id)) keys.push(`b3:${b3Id.padStart(32, '0')}`);
  const rid = single(headers['x-request-id']);
  if (rid !== undefined && rid.length <= REQUEST_ID_MAX && REQUEST_ID_RE.test(rid)) keys.push(`rid:${rid}`);
  return keys;
}

/** The lane filter of one connection manager, as the proxy runs it (model/convert-lanes.ts). */
export interface LaneFilterConfig {
  direction: 'INBOUND' | 'OUTBOUND' | 'GATEWAY';
  /** OUTBOUND: the workload's own branch, for requests that carry no lane and remember none. */
  ownLane?: string;
  /** GATEWAY: lanes from outside are kept (else stripped before routing). */
  acceptExternal: boolean;
}
