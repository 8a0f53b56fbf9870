/**
 * Who is asking: the console's bearer tokens checked against the token file (tokens.ts), and
 * what a role may do. Tokens are compared by their SHA-256 digests with timingSafeEqual against
 * every entry, so the time taken says nothing about how much of a token matched or which entry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConsoleRole, ConsoleUser, TokenEntry } from './tokens.js';

export type AuthOutcome = { ok: true; user: ConsoleUser } | { ok: false; status: 401 | 403; message: string };

export type ConsoleAction = 'read' | 'write';

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class ConsoleAuth {
  private readonly entries: { digest: Buffer; user: ConsoleUser }[];

  constructor(entries: readonly TokenEntry[]) {
    this.entries = entries.map(({ token, ...user }) => ({ digest: digest(token), user }));
  }

  /** The user an `Authorization: Bearer TOKEN` header names, or why not (401). */
  authenticate(authorization: string | undefined): AuthOutcome {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m)
      return {
        ok: false,
        status: 401,
        message: 'log in: send Authorization: Bearer TOKEN (a token from the --console-tokens file)',
      };
    const presented = digest(m[1] as string);
    let found: ConsoleUser | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, presented) && !found) found = e.user;
    if (!found)
      return {
        ok: false,
        status: 401,
        message: 'unknown token: log in again with a token from the --console-tokens file',
      };
    return { ok: true, user: found };
  }

  /** authenticate, then may this user do `action`? Writes need the editor role (403 otherwise). */
  check(authorization: string | undefined, action: ConsoleAction): AuthOutcome {
    const who = this.authenticate(authorization);
    if (!who.ok || allowed(who.user.role, action)) return who;
    return {
      ok: false,
      status: 403,
      message: `${who.user.user} is a viewer: changes need the editor role (group trellis:editors in the token file)`,
    };
  }
}

export function allowed(role: ConsoleRole, action: ConsoleAction): boolean {
  return action === 'read' || role === 'editor';
}
