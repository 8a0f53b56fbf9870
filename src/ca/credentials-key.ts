/**
 * The credential signing key on disk: one EC P-256 private key (PKCS#8 PEM, mode 0600), made on
 * first use and kept, so credentials issued before a control plane restart stay valid. Creation
 * is exclusive (a hard link that fails when the file exists): when two processes race (a control plane starting while `trellis token
 * create` runs), one key wins and both use it.
 */
import { createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TrellisError } from '../core/errors.js';
import { parsePrivateKey } from '../core/pem.js';

export const CREDENTIAL_KEY_FILE = 'credential-signing-key.pem';

async function read(file: string): Promise<KeyObject | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TrellisError(
      'TRELLIS_IO',
      `cannot read the credential signing key: ${(err as Error).message}`,
      {
        file,
        cause: err,
      },
    );
  }
  const key = parsePrivateKey(text);
  if (!key.ok)
    throw new TrellisError('TRELLIS_INVALID_CONFIG', `credential signing key: ${key.error}`, { file });
  return key.value;
}

/** The key in `dir/credential-signing-key.pem`, made (and the directory) when absent. */
export async function loadOrCreateCredentialKey(dir: string): Promise<{ key: KeyObject; created: boolean }> {
  const file = path.join(dir, CREDENTIAL_KEY_FILE);
  const existing = await read(file);
  if (existing !== undefined) return { key: existing, created: false };
  await fs.mkdir(dir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // Written whole under a temporary name, then linked into place: link fails if the file
  // exists, so a racing process never sees half a key and exactly one key wins.
  const tmp = `${file}.${randomUUID()}.tmp`;
  await fs.writeFile(tmp, pem, { mode: 0o600 });
  try {
    await fs.link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = await read(file);
    if (raced !== undefined) return { key: raced, created: false };
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
  return { key: createPrivateKey(pem), created: true };
}

/** The key in `dir`, which must exist (`trellis token create` against a control plane's state). */
export async function loadCredentialKey(dir: string): Promise<KeyObject | undefined> {
  return read(path.join(dir, CREDENTIAL_KEY_FILE));
}
