/**
 * Workload identities for `trellis up`: one credential per workload (and the gateway), issued by
 * the control plane's credential key and written to `<stateDir>/credentials/<name>.jwt` (mode
 * 0600, directory 0700), which each sidecar presents to the CA (`--credential-file` for a
 * sidecar started by hand). They are issued again at every start, so restarting `up` rotates
 * them; files of workloads no longer in the manifest are removed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CredentialAuthority } from '../../ca/credentials.js';

export const CREDENTIALS_DIR = 'credentials';

export interface IdentitySubject {
  /** Workload (or gateway) name: the file name. */
  name: string;
  namespace: string;
  serviceAccount: string;
}

/** Writes a fresh workload credential per subject; returns name -> file. */
export async function provisionCredentials(
  stateDir: string,
  credentials: CredentialAuthority,
  subjects: readonly IdentitySubject[],
): Promise<Map<string, string>> {
  const dir = path.join(stateDir, CREDENTIALS_DIR);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const files = new Map<string, string>();
  for (const s of subjects) {
    const token = await credentials.issue({
      namespace: s.namespace,
      serviceAccount: s.serviceAccount,
      kind: 'workload',
    });
    const file = path.join(dir, `${s.name}.jwt`);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, `${token}\n`, { mode: 0o600 });
    await fs.rename(tmp, file);
    files.set(s.name, file);
  }
  const keep = new Set([...files.values()].map((f) => path.basename(f)));
  for (const entry of await fs.readdir(dir)) {
    if (entry.endsWith('.jwt') && !keep.has(entry)) await fs.rm(path.join(dir, entry), { force: true });
  }
  return files;
}
