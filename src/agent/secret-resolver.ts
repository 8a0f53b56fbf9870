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
              fs.readFile(req.certFile, 'utf8'),
              fs.readFile(req.keyFile, 'utf8'),
            ]);
            out.secrets.set(name, {
              secret: tlsCertificateSecret(name, chain, key),
              version: contentVersion([chain, key]),
            });
          } else {
            const roots = await fs.readFile(req.rootFile, 'utf8');
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
