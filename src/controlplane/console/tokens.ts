/**
 * The console's static token file, in Kubernetes' `--token-auth-file` format: one CSV record a
 * line, `token,user,uid,"group1,group2"` (groups optional, quoted when there are several). The
 * group `trellis:editors` makes a user an editor, `trellis:viewers` a viewer; editors may do what
 * viewers do. Blank lines and lines starting with `#` are skipped.
 */
export type ConsoleRole = 'viewer' | 'editor';

export const EDITOR_GROUP = 'trellis:editors';
export const VIEWER_GROUP = 'trellis:viewers';

export interface ConsoleUser {
  user: string;
  uid: string;
  groups: readonly string[];
  role: ConsoleRole;
}

export interface TokenEntry extends ConsoleUser {
  token: string;
}

export interface TokenFileResult {
  entries: TokenEntry[];
  /** `FILE:LINE: reason`, each saying what to write instead. */
  problems: string[];
}

/** One CSV record (RFC 4180 quoting: `"a,b"`, `""` for a quote); undefined when a quote is unclosed. */
export function splitCsvRecord(line: string): string[] | undefined {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
    i++;
  }
  if (quoted) return undefined;
  fields.push(field);
  return fields;
}

/** The role a user's groups give: editor wins over viewer; none when neither group is there. */
export function roleOf(groups: readonly string[]): ConsoleRole | undefined {
  if (groups.includes(EDITOR_GROUP)) return 'editor';
  if (groups.includes(VIEWER_GROUP)) return 'viewer';
  return undefined;
}

export function parseTokenFile(text: string, file: string): TokenFileResult {
  const entries: TokenEntry[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const at = `${file}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = splitCsvRecord(line);
    if (fields === undefined) {
      problems.push(`${at}: unclosed quote; quote the groups as "group1,group2"`);
      continue;
    }
    const [token = '', user = '', uid = '', groupField = ''] = fields.map((f) => f.trim());
    if (fields.length < 3 || fields.length > 4) {
      problems.push(
        `${at}: expected token,user,uid,"groups" (${fields.length} field(s) found); quote groups containing commas`,
      );
      continue;
    }
    if (token === '' || user === '') {
      problems.push(`${at}: the token and the user name must not be empty`);
      continue;
    }
    if (/\s/.test(token)) {
      problems.push(`${at}: the token contains whitespace; a bearer token is one word`);
      continue;
    }
    const first = seen.get(token);
    if (first !== undefined) {
      problems.push(`${at}: the same token as line ${first}; give each user its own token`);
      continue;
    }
    const groups = groupField
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const role = roleOf(groups);
    if (role === undefined) {
      problems.push(
        `${at}: user ${JSON.stringify(user)} is in neither ${EDITOR_GROUP} nor ${VIEWER_GROUP}; add one to its groups ("${VIEWER_GROUP}")`,
      );
      continue;
    }
    seen.set(token, i + 1);
    entries.push({ token, user, uid, groups, role });
  }
  if (entries.length === 0 && problems.length === 0)
    problems.push(`${file}: no tokens; add a line token,user,uid,"${EDITOR_GROUP}"`);
  return { entries, problems };
}
