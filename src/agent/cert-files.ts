/**
 * Istio's file layout for proxyless gRPC (and any app that reads PEM files): `cert-chain.pem`,
 * `key.pem` (mode 0600) and `root-cert.pem` in one directory, which gRPC's `file_watcher`
 * certificate provider re-reads every refresh interval.
 *
 * Each file is written whole to a temporary file beside it, flushed, then renamed over the old
 * one, so a reader sees the old file or the new one, never half of either. Files whose contents
 * did not change are left alone. The three renames are not one step: a reader that opens the
 * chain and the key at the moment of a renewal can pair a new chain with the old key, and
 * gRPC then keeps its previous certificate until its next refresh (Istio has the same window).
 * The key is written before the chain so that window is as short as it can be.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TrellisError } from '../core/errors.js';
import type { AgentCertificate } from './certificate-source.js';

export const CERT_CHAIN_FILE = 'cert-chain.pem';
export const KEY_FILE = 'key.pem';
export const ROOT_CERT_FILE = 'root-cert.pem';

export interface CertFilePaths {
  certificateFile: string;
  privateKeyFile: string;
  caCertificateFile: string;
}

export function certFilePaths(dir: string): CertFilePaths {
  return {
    certificateFile: path.join(dir, CERT_CHAIN_FILE),
    privateKeyFile: path.join(dir, KEY_FILE),
    caCertificateFile: path.join(dir, ROOT_CERT_FILE),
  };
}

/** Replaces `file` with `contents` atomically (same directory, flushed, renamed). */
export async function writeFileAtomic(file: string, contents: string, mode: number): Promise<boolean> {
  const old = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (old === contents) {
    await fs.chmod(file, mode);
    return false;
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(contents);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
    return true;
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes the certificate's three files into `dir` (created if missing). Returns the files changed. */
export async function writeCertFiles(dir: string, cert: AgentCertificate): Promise<string[]> {
  const p = certFilePaths(dir);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const changed: string[] = [];
    if (await writeFileAtomic(p.caCertificateFile, cert.rootCertsPem, 0o644)) changed.push(ROOT_CERT_FILE);
    if (await writeFileAtomic(p.privateKeyFile, cert.privateKeyPem, 0o600)) changed.push(KEY_FILE);
    if (await writeFileAtomic(p.certificateFile, cert.certChainPem, 0o644)) changed.push(CERT_CHAIN_FILE);
    return changed;
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `--cert-dir ${dir}: cannot write the certificate files (${(err as NodeJS.ErrnoException).code ?? String(err)}); choose a directory this user can write`,
      { cause: err },
    );
  }
}
