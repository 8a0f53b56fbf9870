/**
 * Where jwt_authn providers look for tokens (from_headers with value_prefix, from_params,
 * from_cookies; with none of them, Envoy's default: `Authorization: Bearer <token>` and the
 * `access_token` query parameter), and every token a request carries at those places. Pure.
 *
 * Envoy's header rule (jwt_authn extractor): the value_prefix is looked for anywhere in the
 * value, case-sensitively, and the token is the run of JWT characters after it; a value without
 * the prefix holds no token (so `authorization: bearer x` is a missing token, not a bad one).
 *
 * Exports:
 *   type TokenLocation, locationKey(loc), defaultLocations()
 *   extractTokens(request, locations): ExtractedToken[]
 */

export type TokenLocation =
  | { kind: 'header'; name: string; valuePrefix: string }
  | { kind: 'param'; name: string }
  | { kind: 'cookie'; name: string };

export interface ExtractedToken {
  token: string;
  /** locationKey() of where it was found: tokens from one place are one token to every provider. */
  location: string;
  /** The header it came from (lower case), so forward: false can remove it. */
  header?: string;
}

export interface TokenSource {
  /** Lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request path with its query. */
  path: string;
}

export function locationKey(loc: TokenLocation): string {
  return loc.kind === 'header' ? `header:${loc.name}:${loc.valuePrefix}` : `${loc.kind}:${loc.name}`;
}

export function defaultLocations(): TokenLocation[] {
  return [
    { kind: 'header', name: 'authorization', valuePrefix: 'Bearer ' },
    { kind: 'param', name: 'access_token' },
  ];
}

const JWT_CHARS = /^[A-Za-z0-9\-_.+/=]*/;

export function extractTokens(source: TokenSource, locations: readonly TokenLocation[]): ExtractedToken[] {
  const out: ExtractedToken[] = [];
  const seen = new Set<string>();
  let query: URLSearchParams | undefined;
  let cookies: Map<string, string[]> | undefined;
  const add = (token: string, loc: TokenLocation, header?: string) => {
    const key = locationKey(loc);
    // The same token at the same place (two providers sharing a location) is one token.
    if (token === '' || seen.has(`${key}\u0000${token}`)) return;
    seen.add(`${key}\u0000${token}`);
    out.push(header === undefined ? { token, location: key } : { token, location: key, header });
  };
  for (const loc of locations) {
    if (loc.kind === 'header') {
      for (const value of headerValues(source.headers, loc.name)) {
        if (loc.valuePrefix === '') {
          add(value.trim(), loc, loc.name);
          continue;
        }
        const at = value.indexOf(loc.valuePrefix);
        if (at === -1) continue;
        add(JWT_CHARS.exec(value.slice(at + loc.valuePrefix.length))?.[0] ?? '', loc, loc.name);
      }
    } else if (loc.kind === 'param') {
      const q = source.path.indexOf('?');
      if (q === -1) continue;
      query ??= new URLSearchParams(source.path.slice(q + 1));
      for (const v of query.getAll(loc.name)) add(v, loc);
    } else {
      cookies ??= parseCookies(headerValues(source.headers, 'cookie'));
      for (const v of cookies.get(loc.name) ?? []) add(v, loc);
    }
  }
  return out;
}

function headerValues(headers: TokenSource['headers'], name: string): readonly string[] {
  const v = headers[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function parseCookies(values: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const header of values) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      const list = out.get(name);
      if (list) list.push(value);
      else out.set(name, [value]);
    }
  }
  return out;
}
