/**
 * Sticky canary (a Trellis extension, issue #13): a route's weighted clusters are picked by a
 * hash of a user identity, a request header or cookie, so each user stays on one destination
 * while the weights move (weighted.ts pickWeightedByKey). A request without the key gets the
 * ordinary weighted pick.
 *
 * Over xDS it travels as route metadata, `filter_metadata["trellis.sticky_canary"]` =
 * `{"header": "x-user-id"}` or `{"cookie": "user"}`. Envoy ignores metadata it has no reader
 * for and does ordinary weighted picks on such a route, so the same config stays valid for
 * Envoy. (Envoy's own WeightedCluster.header_name is not used: it reads the header as the
 * number to pick by, and a user id is not one; Envoy falls back to a random pick for a
 * non-numeric value.)
 *
 * Exports:
 *   STICKY_CANARY_METADATA = 'trellis.sticky_canary'
 *   compileStickyCanary(json, path): StickyCanary       throws (with path) on anything else
 *   stickyKey(sticky, headers): string | undefined       the request's key, when it has one
 *   pickTarget(targets, total, sticky, headers, random)  the sticky or the ordinary pick
 */
import type { Random } from '../../core/random.js';
import { cookieValue } from './lb-hash-policy.js';
import { invalid } from './proto-values.js';
import type { RequestHeaders } from './string-matcher.js';
import { pickWeighted, pickWeightedByKey, type Weighted } from './weighted.js';

export const STICKY_CANARY_METADATA = 'trellis.sticky_canary';

export type StickyCanary = { readonly header: string } | { readonly cookie: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function compileStickyCanary(json: Readonly<Record<string, unknown>>, path: string): StickyCanary {
  const keys = Object.keys(json);
  const only = keys.length === 1 ? keys[0] : undefined;
  if (only !== 'header' && only !== 'cookie') {
    throw invalid(path, 'expected exactly one of "header" or "cookie", naming the request key to stick by');
  }
  const name = json[only];
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw invalid(`${path}.${only}`, `expected a ${only} name (an HTTP token), got ${JSON.stringify(name)}`);
  }
  return Object.freeze(only === 'header' ? { header: name.toLowerCase() } : { cookie: name });
}

/** The key of a request: the header's first value or the cookie's; undefined when absent or empty. */
export function stickyKey(sticky: StickyCanary, headers: RequestHeaders): string | undefined {
  let value: string | undefined;
  if ('header' in sticky) {
    const raw = headers[sticky.header];
    value = Array.isArray(raw) ? raw[0] : raw;
  } else value = cookieValue(headers, sticky.cookie);
  return value === '' ? undefined : value;
}

/** A route's weighted cluster for a request: by its sticky key when the route has one and the request carries it. */
export function pickTarget<T extends Weighted & { cluster: string }>(
  targets: readonly T[],
  total: number,
  sticky: StickyCanary | undefined,
  headers: RequestHeaders,
  random: Random,
): T | undefined {
  if (sticky !== undefined) {
    const key = stickyKey(sticky, headers);
    if (key !== undefined)
      return pickWeightedByKey(targets, key, clusterOf) ?? pickWeighted(targets, total, random);
  }
  return pickWeighted(targets, total, random);
}

/**
 * The id a destination is hashed under: its cluster name, with the subset slot of a fallback
 * aggregate (`outbound|PORT|SUBSET~fallback~STABLE|HOST`, xds/translate/fallback.ts) read as the
 * subset's own. The stable subset a Router falls back to follows the heaviest version, so it
 * changes while weights move; hashing on the full name would re-deal every user then.
 */
export function stickyId(cluster: string): string {
  return cluster.replace(FALLBACK_SLOT, '');
}

const FALLBACK_SLOT = /~fallback~[^|]*/;

function clusterOf(t: { cluster: string }): string {
  return stickyId(t.cluster);
}
