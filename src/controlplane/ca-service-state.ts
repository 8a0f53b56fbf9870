/**
 * Where the control plane's CA and credential key come from, and where they are kept:
 *
 *   <stateDir>/ca/                           ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem
 *                                            (Istio's plug-in layout) for a self-provisioned CA,
 *                                            made on first start and loaded on the next ones;
 *   <stateDir>/ca/credential-signing-key.pem the key workload credentials are signed with.
 *
 * With `caDir` (trellis control-plane --ca-dir, Istio's `cacerts`), the CA is that directory's
 * and nothing of it is written; the credential key still lives in the state directory. A restart
 * keeps both, so credentials and certificates issued before it stay valid.
 *
 * A self-provisioned CA also keeps its root's key (`root-key.pem`, mode 0600) so it re-issues its
 * intermediate when less than a fifth of the intermediate's life is left (checked on start and
 * on every signing); workloads keep trusting the same root. A plug-in CA is its operator's to
 * rotate.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority, PLUGIN_FILES, type CertificateAuthorityOptions } from '../ca/authority.js';
import { CredentialAuthority } from '../ca/credentials.js';
import { loadOrCreateCredentialKey } from '../ca/credentials-key.js';
import type { Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { TrellisError, errorMessage } from '../core/errors.js';

export const CA_STATE_DIR = 'ca';

export interface CaStateOptions {
  stateDir: string;
  /** Istio plug-in CA directory; default: self-provisioned in <stateDir>/ca. */
  caDir?: string;
  trustDomain?: string;
  /** Workload certificate lifetime when a request names none. Default 24 h. */
  workloadTtlSeconds?: number;
  /** Longest lifetime a request gets. Default 90 days. */
  maxWorkloadTtlSeconds?: number;
  clock?: Pick<Clock, 'wallNow'>;
  logger?: Logger;
  /**
   * PEM roots trusted besides the CA's own (--trusted-roots): during a root rotation, the next
   * root before the switch, or the previous one after it. Proxies get the bundle with their next
   * certificate.
   */
  trustedRootsFile?: string;
}

export interface CaState {
  authority: CertificateAuthority;
  credentials: CredentialAuthority;
  /** Where the CA came from: the plug-in directory, the state directory, or made now. */
  source: 'plugin' | 'state' | 'created';
  caDir: string;
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

export async function loadCaState(options: CaStateOptions): Promise<CaState> {
  const logger = options.logger ?? silentLogger;
  const own = path.join(options.stateDir, CA_STATE_DIR);
  const caOptions: CertificateAuthorityOptions = {
    ...(options.trustDomain !== undefined ? { trustDomain: options.trustDomain } : {}),
    ...(options.workloadTtlSeconds !== undefined ? { workloadTtlSeconds: options.workloadTtlSeconds } : {}),
    ...(options.maxWorkloadTtlSeconds !== undefined
      ? { maxWorkloadTtlSeconds: options.maxWorkloadTtlSeconds }
      : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  let authority: CertificateAuthority;
  let source: CaState['source'];
  let caDir = own;
  if (options.caDir !== undefined) {
    authority = await CertificateAuthority.fromPluginDirectory(options.caDir, caOptions);
    source = 'plugin';
    caDir = options.caDir;
  } else if (await exists(path.join(own, PLUGIN_FILES.caCert))) {
    authority = await CertificateAuthority.fromStateDirectory(own, caOptions);
    source = 'state';
    if (await authority.renewIntermediate())
      logger.info('re-issued the intermediate CA certificate (less than a fifth of its life was left)', {
        dir: own,
        renewAt: authority.intermediateRenewAt.toISOString(),
      });
  } else {
    authority = await CertificateAuthority.create(caOptions);
    await fs.mkdir(own, { recursive: true, mode: 0o700 });
    await authority.writePluginDirectory(own);
    source = 'created';
  }
  if (options.trustedRootsFile !== undefined) {
    const file = options.trustedRootsFile;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw new TrellisError(
        'TRELLIS_IO',
        `cannot read the trusted roots: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          file,
          cause: err,
        },
      );
    }
    try {
      authority.addTrustedRoot(text);
    } catch (err) {
      throw new TrellisError('TRELLIS_INVALID_CONFIG', errorMessage(err), { file, cause: err });
    }
  }
  const { key, created } = await loadOrCreateCredentialKey(own);
  const credentials = await CredentialAuthority.fromKey(key, {
    ...(options.trustDomain !== undefined ? { trustDomain: options.trustDomain } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  logger.info('certificate authority', {
    source,
    dir: caDir,
    trustDomain: authority.trustDomain,
    credentialKey: created ? 'created' : 'loaded',
    trustedRoots: authority.trustBundle().length,
  });
  return { authority, credentials, source, caDir };
}
