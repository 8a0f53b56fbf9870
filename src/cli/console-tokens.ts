/**
 * The console's token file for `trellis control-plane --console-tokens FILE` and `trellis up`:
 * read and checked (controlplane/console/tokens.ts), or, for `up` without the flag, made once in
 * the state directory with one editor token for the local user (mode 0600) and reused after.
 * The token itself is never printed; where the file is, is.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TrellisError, errorMessage } from '../core/errors.js';
import { EDITOR_GROUP, parseTokenFile, type TokenEntry } from '../controlplane/console/tokens.js';

export const LOCAL_TOKEN_FILE = 'console-tokens.csv';
export const AUDIT_FILE = 'console-audit.jsonl';

export async function loadConsoleTokens(file: string): Promise<TokenEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--console-tokens ${file}: cannot read it (${errorMessage(err)}); give a CSV file of token,user,uid,"groups"`,
    );
  }
  const { entries, problems } = parseTokenFile(text, file);
  if (problems.length > 0)
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--console-tokens: ${problems.join('; ')}`);
  return entries;
}

/** The local user's name, for the token `up` makes (`USER`, else the OS account). */
export function localUser(env: NodeJS.ProcessEnv): string {
  const name =
    env.USER ??
    env.LOGNAME ??
    (() => {
      try {
        return os.userInfo().username;
      } catch {
        return undefined;
      }
    })();
  return (name ?? 'local').replace(/[",\s]/g, '') || 'local';
}

/** STATE-DIR/console-tokens.csv with an editor token for `user`, made when missing. */
export async function ensureLocalTokenFile(
  stateDir: string,
  user: string,
): Promise<{ file: string; created: boolean }> {
  const file = path.join(stateDir, LOCAL_TOKEN_FILE);
  await mkdir(stateDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  const line = `${token},${user},${process.getuid?.() ?? 0},"${EDITOR_GROUP}"\n`;
  try {
    // `wx`: a file already there (an earlier run's, or one the user edited) is kept.
    await writeFile(file, `# Trellis console tokens (Kubernetes --token-auth-file format)\n${line}`, {
      mode: 0o600,
      flag: 'wx',
    });
    return { file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { file, created: false };
    throw err;
  }
}
