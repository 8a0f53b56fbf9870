/**
 * Request path handling before routing, as Envoy's connection manager does it with the options
 * Istio sets from mesh config (`pathNormalization`: NONE, BASE, MERGE_SLASHES,
 * DECODE_AND_MERGE_SLASHES). Routing (and authorization) see the result, and it is the path
 * forwarded upstream, so a rule on `/public` cannot be escaped with `/public/../admin`.
 *
 * Always: the fragment is stripped (it is never sent to a server) and bytes that no request
 * target may hold (controls, space, DEL, raw non-ASCII) are rejected with 400. Then, in Envoy's
 * order (ConnectionManagerUtility::maybeNormalizePath):
 * 1. escaped slashes (`%2F`, `%5C`): kept, rejected, or decoded (and for UNESCAPE_AND_REDIRECT
 *    the client is redirected to the decoded path);
 * 2. normalize_path: RFC 3986 normalization of the path part (the query is untouched):
 *    percent-encoded unreserved characters are decoded (`%2e` -> `.`, `%41` -> `A`), `\` becomes `/`
 *    as URL parsers treat it, and dot segments are removed (section 5.2.4); a malformed escape
 *    (`%zz`) is rejected, since two parsers could read it two ways;
 * 3. merge_slashes: runs of `/` become one.
 * Pure and table-tested (path-normalization.test.ts).
 */
import type { PathNormalization } from '../model/config.js';

export type PathResult =
  | { kind: 'ok'; path: string }
  | { kind: 'reject'; detail: string }
  /** UNESCAPE_AND_REDIRECT: send the client to `path`. */
  | { kind: 'redirect'; path: string };

export const NO_NORMALIZATION: PathNormalization = Object.freeze({
  normalize: false,
  mergeSlashes: false,
  escapedSlashes: 'KEEP_UNCHANGED',
});

const HEX = '0123456789ABCDEFabcdef';

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x7e // ~
  );
}

export function normalizeRequestPath(raw: string, opts: PathNormalization): PathResult {
  let target = raw;
  const hash = target.indexOf('#');
  if (hash !== -1) target = target.slice(0, hash);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return { kind: 'reject', detail: 'invalid character in path' };
  }
  // `*` (OPTIONS) and anything not origin-form is left alone, as Envoy does.
  if (target.charCodeAt(0) !== 0x2f /* / */) return { kind: 'ok', path: target };
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  let redirect = false;
  if (opts.escapedSlashes !== 'KEEP_UNCHANGED' && /%(2f|5c)/i.test(path)) {
    if (opts.escapedSlashes === 'REJECT_REQUEST') return { kind: 'reject', detail: 'escaped slash in path' };
    path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
    redirect = opts.escapedSlashes === 'UNESCAPE_AND_REDIRECT';
  }
  if (opts.normalize) {
    const decoded = decodeUnreserved(path);
    if (decoded === undefined) return { kind: 'reject', detail: 'malformed percent-encoding in path' };
    path = removeDotSegments(decoded.replace(/\\/g, '/'));
  }
  if (opts.mergeSlashes) path = path.replace(/\/{2,}/g, '/');
  const out = path + query;
  return redirect ? { kind: 'redirect', path: out } : { kind: 'ok', path: out };
}

/** Decodes `%XX` of unreserved characters; undefined for a `%` not followed by two hex digits. */
function decodeUnreserved(path: string): string | undefined {
  if (!path.includes('%')) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const h = path.charAt(i + 1);
    const l = path.charAt(i + 2);
    if (h === '' || l === '' || !HEX.includes(h) || !HEX.includes(l)) return undefined;
    const c = parseInt(h + l, 16);
    out += path.slice(from, i);
    // Other escapes stay as sent (upper-cased, as RFC 3986 6.2.2.1 normalizes them).
    out += isUnreserved(c) ? String.fromCharCode(c) : `%${h}${l}`.toUpperCase();
    from = i + 3;
    i += 2;
  }
  return out + path.slice(from);
}

/** RFC 3986 section 5.2.4 on an absolute path: `.` and `..` segments go, never above the root. */
export function removeDotSegments(path: string): string {
  if (!path.includes('.')) return path;
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading `/`.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/');
}
