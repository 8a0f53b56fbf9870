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
  let sawRest = false;
  const names = new Set<string>();
  const pieces: string[] = [];
  let suffix = '';
  let rest = template.slice(1);
  while (rest !== '') {
    let parts: Part[];
    if (rest.startsWith('*')) {
      const n = rest.startsWith('**') ? 2 : 1;
      parts = [{ kind: 'glob', rest: n === 2 }];
      rest = rest.slice(n);
    } else if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      if (close === -1) throw fail('unmatched {');
      parts = variable(rest.slice(1, close), names, fail);
      rest = rest.slice(close + 1);
    } else {
      const slash = rest.indexOf('/');
      const text = slash === -1 ? rest : rest.slice(0, slash);
      if (!LITERAL.test(text)) throw fail(`invalid literal ${JSON.stringify(text)}`);
      parts = [{ kind: 'literal', text }];
      rest = rest.slice(text.length);
    }
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
    pieces.push(piece);
    if (rest === '') break;
    if (rest === '/') {
      // One trailing `/`: an empty last segment.
      pieces.push('');
      break;
    }
    if (rest.startsWith('/')) {
      rest = rest.slice(1);
      if (rest === '' || rest.startsWith('/')) throw fail('empty path segment');
      continue;
    }
    // Text right after a glob or variable, up to the end: a suffix (`*.js`), last segment only.
    if (rest.includes('/')) throw fail('a suffix is only allowed in the last segment');
    if (!LITERAL.test(rest)) throw fail(`invalid literal ${JSON.stringify(rest)}`);
    suffix = escape(rest);
    break;
  }
  if (names.size > MAX_VARIABLES) throw fail(`more than ${MAX_VARIABLES} variables`);
  const re = new RE2(`^/${pieces.join('/')}${suffix}$`);
  return (requestPath) => {
    const q = requestPath.search(/[?#]/);
    return re.test(q === -1 ? requestPath : requestPath.slice(0, q));
  };
}

/** The inside of `{...}`: a name, and optionally `=` a `/`-separated match of globs and literals. */
function variable(inner: string, names: Set<string>, fail: (why: string) => Error): Part[] {
  const eq = inner.indexOf('=');
  const name = eq === -1 ? inner : inner.slice(0, eq);
  if (name === '*' || name === '**')
    throw fail(`{${name}} is not a variable: write ${name} (Istio's {${name}} becomes ${name} in Envoy)`);
  if (!NAME.test(name)) throw fail(`invalid variable name ${JSON.stringify(name)}`);
  if (names.has(name)) throw fail(`repeated variable name ${JSON.stringify(name)}`);
  names.add(name);
  if (eq === -1) return [{ kind: 'glob', rest: false }];
  const match = inner.slice(eq + 1);
  if (match === '') throw fail('empty variable match');
  return match.split('/').map((m): Part => {
    if (m === '*' || m === '**') return { kind: 'glob', rest: m === '**' };
    if (!LITERAL.test(m)) throw fail(`invalid variable match ${JSON.stringify(match)}`);
    return { kind: 'literal', text: m };
  });
}

function escape(text: string): string {
  return text.replace(/[.$()+\\^[\]{}|?*]/g, (c) => `\\${c}`);
}
