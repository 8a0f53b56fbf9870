/**
 * The hash policy layer: the route's hash_policy (compiled by policy/lb-hash-policy.ts) turned
 * into the hash a RING_HASH or MAGLEV pick uses, and, for a cookie policy with a ttl whose cookie
 * the request lacked, the Set-Cookie header that pins the client to the host the hash picks
 * (Envoy generates the cookie value and asks the client to keep it).
 */
import type { ForwardAction } from '../model/config.js';
import type { HashResult } from '../policy/lb-hash-policy.js';

export interface HashedRequest {
  hash: bigint | undefined;
  /** The Set-Cookie value to add to the response, when the policy generated a cookie. */
  setCookie: string | undefined;
}

const NONE: HashedRequest = { hash: undefined, setCookie: undefined };

export function hashRequest(
  policy: ForwardAction['hash'],
  headers: Readonly<Record<string, string | string[] | undefined>>,
  path: string,
  sourceIp: string,
): HashedRequest {
  if (!policy) return NONE;
  const q = path.indexOf('?');
  const result = policy({ headers, query: new URLSearchParams(q === -1 ? '' : path.slice(q + 1)), sourceIp });
  return { hash: result.hash, setCookie: result.setCookie ? setCookieValue(result.setCookie) : undefined };
}

/**
 * Envoy's generated cookie (Http::Utility::makeSetCookieValue with httponly): name="value",
 * Max-Age in whole seconds when there are any, Path, the configured attributes, HttpOnly.
 */
export function setCookieValue(c: NonNullable<HashResult['setCookie']>): string {
  const parts = [`${c.name}="${c.value}"`];
  const seconds = Math.floor(c.ttlMs / 1000);
  if (seconds > 0) parts.push(`Max-Age=${seconds}`);
  if (c.path) parts.push(`Path=${c.path}`);
  for (const a of c.attributes) parts.push(a.value ? `${a.name}=${a.value}` : a.name);
  parts.push('HttpOnly');
  return parts.join('; ');
}
