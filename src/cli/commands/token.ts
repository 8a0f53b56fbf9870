/**
 * `trellis token create`: a credential for a workload, signed with the control plane's
 * credential key (its state directory), printed on stdout for `trellis proxy --credential-file`.
 * Join tokens (the default) are short-lived: a host joining from elsewhere uses one for its first
 * certificate, and the CA gives it a workload credential for the renewals.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CredentialAuthority, DEFAULT_CREDENTIAL_TTL } from '../../ca/credentials.js';
import { loadCredentialKey } from '../../ca/credentials-key.js';
import { DEFAULT_STATE_DIR_NAME } from '../../config/last-good-state.js';
import { CA_STATE_DIR } from '../../controlplane/ca-service-state.js';
import { tryParseDuration } from '../../core/duration.js';
import { TrellisError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';

const USAGE = `Usage: trellis token create --namespace NS --service-account SA (--state-dir DIR | --config DIR)
                            [--ttl 1h] [--kind join|workload] [--trust-domain cluster.local]
                            [--output FILE] [--root-cert-out FILE [--ca-dir DIR]]

Prints a credential for spiffe://TRUST-DOMAIN/ns/NS/sa/SA, signed with the credential key of the
control plane whose state directory is DIR (--config DIR means DIR/${DEFAULT_STATE_DIR_NAME}, the
control plane's default). The control plane must have started once with it (it makes the key).

  --kind join       (default) short-lived, for a host joining from elsewhere: its proxy sends it
                    with its first CSR and gets a workload credential back for the renewals
                    (written over --credential-file). --ttl default 1h, at most 168h.
  --kind workload   long-lived (default 8760h), as \`trellis up\` provisions for each workload.
  --trust-domain    must be the control plane's (--trust-domain there; default cluster.local).
  --output FILE     write it to FILE (mode 0600) instead of stdout.
  --root-cert-out FILE
                    also write the control plane's root certificate to FILE: with the token,
                    all a host joining from elsewhere needs (trellis proxy --xds-root-ca FILE to
                    reach the control plane's TLS port). Read from DIR/ca/root-cert.pem, or from
                    --ca-dir DIR when the control plane runs with Istio's plug-in files.

Example:
  trellis token create --namespace vms --service-account billing --config ./mesh --ttl 30m \\
    --output join.jwt --root-cert-out root-cert.pem
  trellis proxy --xds-address 10.0.0.5:15012 --xds-root-ca root-cert.pem --namespace vms --credential-file join.jwt`;

export const command: Command = {
  name: 'token',
  summary: 'Create a join token or workload credential for a proxy (trellis proxy --credential-file).',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('token', argv, {
      namespace: { type: 'string', short: 'n' },
      'service-account': { type: 'string' },
      'state-dir': { type: 'string' },
      config: { type: 'string' },
      ttl: { type: 'string' },
      kind: { type: 'string', default: 'join' },
      'trust-domain': { type: 'string', default: 'cluster.local' },
      output: { type: 'string', short: 'o' },
      'root-cert-out': { type: 'string' },
      'ca-dir': { type: 'string' },
    });
    if (positionals[0] !== 'create' || positionals.length !== 1)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "expected 'trellis token create ...'; run 'trellis token --help'",
      );
    const namespace = values.namespace;
    const serviceAccount = values['service-account'];
    if (namespace === undefined || serviceAccount === undefined)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', '--namespace and --service-account are required');
    const kind = values.kind;
    if (kind !== 'join' && kind !== 'workload')
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--kind ${JSON.stringify(kind)}: expected join or workload`,
      );
    let ttlSeconds = DEFAULT_CREDENTIAL_TTL[kind];
    if (values.ttl !== undefined) {
      const ms = tryParseDuration(values.ttl);
      if (ms === undefined || ms < 1000)
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `--ttl ${JSON.stringify(values.ttl)}: expected a duration such as 1h or 30m`,
        );
      ttlSeconds = Math.floor(ms / 1000);
    }
    if ((values['state-dir'] === undefined) === (values.config === undefined))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "one of --state-dir DIR or --config DIR is required (the control plane's state directory)",
      );
    const stateDir =
      values['state-dir'] !== undefined
        ? path.resolve(io.cwd, values['state-dir'])
        : path.join(path.resolve(io.cwd, values.config as string), DEFAULT_STATE_DIR_NAME);
    const keyDir = path.join(stateDir, CA_STATE_DIR);
    const key = await loadCredentialKey(keyDir);
    if (key === undefined)
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        `no credential signing key in ${keyDir}: start the control plane once with this state directory (it makes the key), or check the path`,
      );
    if (values['ca-dir'] !== undefined && values['root-cert-out'] === undefined)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', '--ca-dir is only read for --root-cert-out FILE');
    // Read before anything is written: a missing root leaves no half-made pair of files.
    const root =
      values['root-cert-out'] === undefined
        ? undefined
        : await readRoot(
            values['ca-dir'] !== undefined ? path.resolve(io.cwd, values['ca-dir']) : keyDir,
            values['ca-dir'] !== undefined,
          );
    const authority = await CredentialAuthority.fromKey(key, { trustDomain: values['trust-domain'] });
    const token = await authority.issue({
      namespace,
      serviceAccount,
      kind: kind,
      ttlSeconds,
    });
    if (values.output !== undefined) {
      const out = path.resolve(io.cwd, values.output);
      await fs.writeFile(out, `${token}\n`, { mode: 0o600 });
      await fs.chmod(out, 0o600);
      io.stderr(
        `trellis token: ${kind} credential for spiffe://${authority.trustDomain}/ns/${namespace}/sa/${serviceAccount}, valid ${ttlSeconds}s, written to ${values.output}\n`,
      );
    } else {
      io.stdout(`${token}\n`);
    }
    if (root !== undefined && values['root-cert-out'] !== undefined) {
      await fs.writeFile(path.resolve(io.cwd, values['root-cert-out']), root);
      io.stderr(
        `trellis token: root certificate written to ${values['root-cert-out']} (trellis proxy --xds-root-ca)\n`,
      );
    }
    return 0;
  },
};

/** root-cert.pem of the CA directory, checked to be PEM certificates. */
async function readRoot(dir: string, flagged: boolean): Promise<string> {
  const file = path.join(dir, 'root-cert.pem');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_NOT_FOUND',
      `--root-cert-out: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${flagged ? 'check --ca-dir' : 'start the control plane once with this state directory, or pass --ca-dir DIR when it runs with --ca-dir'}`,
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new TrellisError('TRELLIS_INVALID_CONFIG', `--root-cert-out: ${file} holds no PEM certificate`);
  return text;
}
