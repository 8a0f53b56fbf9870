import RE2 from 're2';
import { invalid } from './proto-values.js';

/**
 * Envoy's URI template path matcher (envoy.path.match.uri_template), what Istio compiles
 * AuthorizationPolicy paths with `{*}` / `{**}` into (as `*` / `**` in `path_template`):
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/path/match/uri_template/v3/uri_template_match.proto
 *
 * A template is `/` followed by segments separated by `/`: a literal (RFC 3986 pchar without
 * `*` and `=`), `*` (exactly one non-empty segment), `**` (the rest of the path, `/` included,
 * possibly empty; nothing with a glob may follow it), or a variable `{name}` / `{name=*}` /
 * `{name=**}` / `{name=lit/*}`. The last segment may end with a literal suffix (`/*.js`). The
 * whole path without its query must match. Pure; compiled once (RE2, linear time).
 *
 * Exports:
 *   compileUriTemplate(template, path): (requestPath: string) => boolean   throws with `path`
 */

// RFC 3986 pchar without `*` and `=` (Envoy's kLiteral).
const LITERAL_CHARS = "a-zA-Z0-9\\-._~%!$&'()+,;:@";
const LITERAL = new RegExp(`^[${LITERAL_CHARS}]+$`);
const SEGMENT = `[${LITERAL_CHARS}]+`;
const REST = `[${LITERAL_CHARS}/]*`;
const NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,15}$/;
const MAX_VARIABLES = 5;

type Part = { kind: 'literal'; text: string } | { kind: 'glob'; rest: boolean };

export function compileUriTemplate(template: string, path: string): (requestPath: string) => boolean {
  if (!/^\/[\x21-\x7e]*$/.test(template))
    throw invalid(path, `path template ${JSON.stringify(template)} must start with / and be printable`);
  const fail = (why: string) => invalid(path, `path template ${JSON.stringify(template)}: ${why}`);
  let regex = '';
  let sawRest = false;
  const names = new Set<string>();
  const segments = template.slice(1).split('/');
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '') {
      // A single trailing `/` is a literal empty segment; any other empty segment is an error.
      if (!last) throw fail('empty path segment');
      regex += '/';
      return;
    }
    const { parts, suffix } = parseSegment(segment, last, names, fail);
    let piece = '';
    for (const p of parts) {
      if (p.kind === 'literal') {
        piece += (piece === '' ? '' : '/') + escape(p.text);
        continue;
      }
      if (sawRest) throw fail('no glob may follow **');
      sawRest = p.rest;
      piece += (piece === '' ? '' : '/') + (p.rest ? REST : SEGMENT);
    }
    regex += `/${piece}${suffix === undefined ? '' : escape(suffix)}`;
  });
  if (names.size > MAX_VARIABLES) throw fail(`more than ${MAX_VARIABLES} variables`);
  const re = new RE2(`^${regex}$`);
  return (requestPath) => {
    const q = requestPath.search(/[?#]/);
    return re.test(q === -1 ? requestPath : requestPath.slice(0, q));
  };
}

function parseSegment(
  segment: string,
  last: boolean,
  names: Set<string>,
  fail: (why: string) => Error,
): { parts: Part[]; suffix?: string } {
  let head = segment;
  let suffix: string | undefined;
  if (segment.startsWith('*')) {
    const n = segment.startsWith('**') ? 2 : 1;
    head = segment.slice(0, n);
    if (segment.length > n) suffix = segment.slice(n);
  } else if (segment.startsWith('{')) {
    const close = segment.indexOf('}');
    if (close === -1) throw fail('unmatched {');
    head = segment.slice(0, close + 1);
    if (segment.length > close + 1) suffix = segment.slice(close + 1);
  }
  if (suffix !== undefined) {
    if (!last) throw fail('a suffix is only allowed in the last segment');
    if (!LITERAL.test(suffix)) throw fail(`invalid literal ${JSON.stringify(suffix)}`);
  }
  if (head === '*' || head === '**') return { parts: [{ kind: 'glob', rest: head === '**' }], suffix };
  if (!head.startsWith('{')) {
    if (!LITERAL.test(head)) throw fail(`invalid literal ${JSON.stringify(head)}`);
    return { parts: [{ kind: 'literal', text: head }] };
  }
  const inner = head.slice(1, -1);
  const eq = inner.indexOf('=');
  const name = eq === -1 ? inner : inner.slice(0, eq);
  if (name === '*' || name === '**')
    throw fail(`{${name}} is not a variable: write ${name} (Istio's {${name}} becomes ${name} in Envoy)`);
  if (!NAME.test(name)) throw fail(`invalid variable name ${JSON.stringify(name)}`);
  if (names.has(name)) throw fail(`repeated variable name ${JSON.stringify(name)}`);
  names.add(name);
  if (eq === -1) return { parts: [{ kind: 'glob', rest: false }], suffix };
  const match = inner.slice(eq + 1);
  if (match === '') throw fail('empty variable match');
  const parts: Part[] = match.split('/').map((m) => {
    if (m === '*' || m === '**') return { kind: 'glob', rest: m === '**' };
    if (!LITERAL.test(m)) throw fail(`invalid variable match ${JSON.stringify(match)}`);
    return { kind: 'literal', text: m };
  });
  return { parts, suffix };
}

function escape(text: string): string {
  return text.replace(/[.$()+\\^[\]{}|?*]/g, (c) => `\\${c}`);
}
