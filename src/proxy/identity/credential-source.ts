/**
 * Where the proxy's credential for the CA comes from. `trellis proxy --credential-file F`
 * reads F before every request, so replacing the file (a re-provisioned credential) takes effect
 * at the next renewal without a restart. A workload credential the CA exchanged for a join token
 * is written back to F (atomically, mode 0600) so a restarted proxy can still renew; when F
 * cannot be written it is kept in memory for as long as F is unchanged.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TrellisError } from '../../core/errors.js';

export interface CredentialSource {
  /** The credential to present now. */
  read(): Promise<string>;
  /** Takes the workload credential the CA exchanged for a join token. */
  replace(credential: string): Promise<void>;
}

/** A credential that never changes (tests, embedding). `replace` keeps the new one. */
export function fixedCredential(credential: string): CredentialSource {
  let value = credential;
  return {
    read: () => Promise.resolve(value),
    replace: (next) => {
      value = next;
      return Promise.resolve();
    },
  };
}

export function fileCredential(file: string): CredentialSource {
  let override: { credential: string; whileFileIs: string } | undefined;
  const readFile = async (): Promise<string> => {
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new TrellisError(
        'TRELLIS_IO',
        `cannot read the credential file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { file, cause: err },
      );
    }
  };
  return {
    async read() {
      const text = await readFile();
      if (override !== undefined && override.whileFileIs === text) return override.credential;
      override = undefined;
      if (text === '')
        throw new TrellisError('TRELLIS_INVALID_CONFIG', 'the credential file is empty', { file });
      return text;
    },
    async replace(credential) {
      const before = await readFile().catch(() => '');
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
      try {
        await fs.writeFile(tmp, `${credential}\n`, { mode: 0o600 });
        await fs.rename(tmp, file);
        override = undefined;
      } catch (err) {
        await fs.unlink(tmp).catch(() => undefined);
        override = { credential, whileFileIs: before };
        throw new TrellisError(
          'TRELLIS_IO',
          `cannot write the credential file (${(err as NodeJS.ErrnoException).code ?? String(err)}); the new credential is kept in memory`,
          { file, cause: err },
        );
      }
    },
  };
}
