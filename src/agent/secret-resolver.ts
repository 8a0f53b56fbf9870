/**
 * Resolves SDS resource names to Secrets with a content version: `default`/`ROOTCA` from the
 * workload certificate, `file-cert:`/`file-root:` from PEM files read now. Names it cannot serve
 * are reported with the reason; names waiting for the first certificate are `pending` (Envoy
 * keeps the listener or cluster warming until they come, as it does with Istio's agent).
 */
import fs from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import type { Secret } from '../protocol/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';
import type { AgentCertificate } from './certificate-source.js';
import {
  contentVersion,
  parseSecretName,
  tlsCertificateSecret,
  trustedCaSecret,
  workloadSecret,
} from './sds-secrets.js';

/**
 * file-cert:/file-root: take any path an SDS client names, so they only serve what is plainly a
 * certificate or key: a name cannot turn the agent into a reader of arbitrary files.
 */
const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/;
const PRIVATE_KEY_PEM = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]+-----END (?:[A-Z]+ )?PRIVATE KEY-----/;

function requirePem(text: string, pattern: RegExp, file: string, what: string): string {
  if (!pattern.test(text)) throw new Error(`${file} is not ${what} in PEM form`);
  return text;
}

export interface ResolvedSecret {
  secret: Secret;
  /** Changes exactly when the secret's contents change. */
  version: string;
}

export interface Resolution {
  secrets: Map<string, ResolvedSecret>;
  /** Names this agent does not serve, with why. */
  unknown: Map<string, string>;
  /** Names that will resolve later: no certificate yet, or a file that cannot be read now. */
  pending: Map<string, string>;
}

export async function resolveSecrets(
  names: Iterable<string>,
  cert: AgentCertificate | undefined,
): Promise<Resolution> {
  const out: Resolution = { secrets: new Map(), unknown: new Map(), pending: new Map() };
  for (const name of names) {
    const req = parseSecretName(name);
    switch (req.kind) {
      case 'unknown':
        out.unknown.set(name, req.reason);
        break;
      case 'workload':
      case 'root': {
        const secret = cert === undefined ? undefined : workloadSecret(name, cert);
        if (secret === undefined || cert === undefined) {
          out.pending.set(name, 'waiting for the first workload certificate from the CA');
          break;
        }
        const parts = req.kind === 'workload' ? [cert.certChainPem, cert.privateKeyPem] : [cert.rootCertsPem];
        out.secrets.set(name, { secret, version: contentVersion(parts) });
        break;
      }
      case 'file-cert':
      case 'file-root':
        try {
          if (req.kind === 'file-cert') {
            const [chain, key] = await Promise.all([
              fs
                .readFile(req.certFile, 'utf8')
                .then((t) => requirePem(t, CERTIFICATE_PEM, req.certFile, 'a certificate chain')),
              fs
                .readFile(req.keyFile, 'utf8')
                .then((t) => requirePem(t, PRIVATE_KEY_PEM, req.keyFile, 'a private key')),
            ]);
            out.secrets.set(name, {
              secret: tlsCertificateSecret(name, chain, key),
              version: contentVersion([chain, key]),
            });
          } else {
            const roots = requirePem(
              await fs.readFile(req.rootFile, 'utf8'),
              CERTIFICATE_PEM,
              req.rootFile,
              'certificates',
            );
            out.secrets.set(name, { secret: trustedCaSecret(name, roots), version: contentVersion([roots]) });
          }
        } catch (err) {
          out.pending.set(name, `cannot read the file: ${errorMessage(err)}`);
        }
        break;
    }
  }
  return out;
}
