import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readCredentialClaims } from '../../agent/credential-claims.js';
import { WorkloadAgent, type WorkloadAgentOptions } from '../../agent/workload-agent.js';
import type { WorkloadNode } from '../../agent/workload-node.js';
import { systemClock } from '../../core/clock.js';
import { TrellisError, errorMessage } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { systemRandom } from '../../core/random.js';
import { CaClient } from '../../proxy/identity/ca-client.js';
import {
  CaCallError,
  grpcCertificateRequester,
  type CertificateRequester,
} from '../../proxy/identity/ca-client-transport.js';
import { fileCredential } from '../../proxy/identity/credential-source.js';
import type { Command } from '../command.js';
import { parseAddress, parseFlags, parseIntFlag } from '../args.js';
import { untilSignal } from '../signals.js';

/** Istio's SDS socket, relative to the state directory (pilot-agent's is relative to its cwd). */
export const DEFAULT_SDS_SOCKET = 'var/run/secrets/workload-spiffe-uds/socket';
/** Where Istio's agent writes proxyless gRPC's PEM files (OUTPUT_CERTS in its injection template). */
export const DEFAULT_CERT_DIR = 'var/lib/istio/data';

function parseLabels(value: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!value) return labels;
  for (const pair of value.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--labels ${JSON.stringify(value)}: expected k=v,k=v (bad entry ${JSON.stringify(pair)})`,
      );
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}

const hostPort = (a: { host: string; port: number }) =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/** The CA refused who we are: retrying cannot help, the user must change the credential. */
function refusesCredential(err: unknown): err is CaCallError {
  return (
    err instanceof CaCallError &&
    (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED)
  );
}

export const command: Command = {
  name: 'agent',
  summary:
    'Workload agent for Envoy and proxyless gRPC: certificates over SDS or as files, and their bootstraps.',
  usage: [
    'Usage: trellis agent --credential-file F [--ca-address HOST:PORT] [--xds-address HOST:PORT] [--state-dir DIR]',
    '                     [--sds-socket PATH] [--envoy-bootstrap FILE] [--admin-port 15000]',
    '                     [--cert-dir DIR] [--grpc-bootstrap FILE] [--cert-ttl SECONDS]',
    '                     [--namespace NS] [--workload NAME] [--labels k=v,...] [--instance-ips IP,...]',
    '                     [--locality R/Z/S] [--id NODE_ID] [-- COMMAND [ARGS...]]',
    '',
    "What Istio's pilot-agent does for Envoy and proxyless gRPC: the workload's key is made here, a",
    'CSR goes with the credential in --credential-file F (`trellis up` provisions one, `trellis token',
    'create` makes a join token) to the CA at --ca-address (default --xds-address), and the certificate is',
    'renewed at half its life, retrying with backoff and keeping the current one when the CA is down.',
    '',
    'Envoy: SDS on a Unix socket (--sds-socket, default DIR/' + DEFAULT_SDS_SOCKET + ') with',
    "Istio's names: `default` (chain and key), `ROOTCA` (trust bundle), `file-cert:CERT~KEY` and",
    '`file-root:ROOT`. --envoy-bootstrap FILE writes a bootstrap for it (node, ADS over the static',
    '`xds-grpc` cluster to --xds-address, `sds-grpc` over the socket): `envoy -c FILE`.',
    'Proxyless gRPC: --cert-dir DIR (default DIR/' + DEFAULT_CERT_DIR + ' with --grpc-bootstrap) gets',
    'cert-chain.pem, key.pem (0600) and root-cert.pem, replaced atomically on each renewal;',
    '--grpc-bootstrap FILE writes the xDS bootstrap with a `default` file_watcher certificate provider',
    'over them: run the app with GRPC_XDS_BOOTSTRAP=FILE.',
    'SDS is served when --sds-socket or --envoy-bootstrap is given, or when no gRPC flag is.',
    "--namespace and the service account default to the credential's; --workload to labels.app or the",
    'service account. --state-dir (default: the current directory) anchors the default paths.',
    '-- COMMAND ARGS: runs the data plane once the first certificate is written, with',
    'GRPC_XDS_BOOTSTRAP set when --grpc-bootstrap is given; SIGTERM/SIGINT stop it, and the agent',
    "exits with the command's exit code.",
    'Exit: 1 when the CA refuses the credential (say why; get a new one) or it has expired.',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('agent', argv, {
      'credential-file': { type: 'string' },
      'ca-address': { type: 'string' },
      'xds-address': { type: 'string', aliases: ['xds'] },
      'state-dir': { type: 'string' },
      'sds-socket': { type: 'string' },
      'envoy-bootstrap': { type: 'string' },
      'admin-port': { type: 'string' },
      'cert-dir': { type: 'string' },
      'grpc-bootstrap': { type: 'string' },
      'cert-ttl': { type: 'string' },
      namespace: { type: 'string' },
      workload: { type: 'string' },
      labels: { type: 'string' },
      'instance-ips': { type: 'string', default: '127.0.0.1' },
      locality: { type: 'string', default: '' },
      id: { type: 'string' },
    });
    const credentialFlag = values['credential-file'];
    if (credentialFlag === undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "--credential-file F is required: the credential the CA knows this workload by (`trellis token create` makes one); run 'trellis agent --help'",
      );
    const addressFlag = values['ca-address'] ?? values['xds-address'];
    if (addressFlag === undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "--ca-address HOST:PORT (or --xds-address) is required: where the control plane's CA listens, e.g. 127.0.0.1:15010",
      );
    const ca = parseAddress(values['ca-address'] !== undefined ? 'ca-address' : 'xds-address', addressFlag);
    const xds = values['xds-address'] !== undefined ? parseAddress('xds-address', values['xds-address']) : ca;
    const ttl = parseIntFlag('cert-ttl', values['cert-ttl'], 0);
    const adminPort = parseIntFlag('admin-port', values['admin-port'], 15000);
    const cwd = io.cwd;
    const stateDir = path.resolve(cwd, values['state-dir'] ?? '.');
    const credentialFile = path.resolve(cwd, credentialFlag);
    let token: string;
    try {
      token = await fs.readFile(credentialFile, 'utf8');
    } catch (err) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--credential-file ${credentialFlag}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
    const claims = readCredentialClaims(token, systemClock.wallNow());
    if (!claims.ok)
      throw new TrellisError(
        'TRELLIS_INVALID_CONFIG',
        `--credential-file ${credentialFlag}: ${claims.reason}`,
      );

    const grpcFlag = values['grpc-bootstrap'];
    const certDirFlag =
      values['cert-dir'] ?? (grpcFlag !== undefined ? path.join(stateDir, DEFAULT_CERT_DIR) : undefined);
    const wantsSds =
      values['sds-socket'] !== undefined ||
      values['envoy-bootstrap'] !== undefined ||
      (grpcFlag === undefined && values['cert-dir'] === undefined);
    const sdsSocket = wantsSds
      ? path.resolve(stateDir, values['sds-socket'] ?? DEFAULT_SDS_SOCKET)
      : undefined;
    const certDir = certDirFlag !== undefined ? path.resolve(cwd, certDirFlag) : undefined;
    const labels = parseLabels(values.labels);
    const workload: WorkloadNode = {
      namespace: values.namespace ?? claims.claims.namespace,
      workloadName: values.workload ?? labels.app ?? claims.claims.serviceAccount,
      labels,
      instanceIps: values['instance-ips']
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
      locality: values.locality,
    };

    const logger = createLogger('agent', {}, io.env);
    let haveCertificate = false;
    let failures = 0;
    let fatal: (err: Error) => void = () => undefined;
    const refused = new Promise<Error>((resolve) => (fatal = resolve));
    const inner = grpcCertificateRequester(hostPort(ca));
    const requester: CertificateRequester = {
      async request(req, credential) {
        try {
          const res = await inner.request(req, credential);
          failures = 0;
          return res;
        } catch (err) {
          failures++;
          if (!haveCertificate && refusesCredential(err))
            fatal(
              new TrellisError(
                'TRELLIS_INVALID_CONFIG',
                `the CA at ${hostPort(ca)} refused the credential in --credential-file ${credentialFlag}: ${err.message}; get a new one (\`trellis token create\`) or check --ca-address`,
              ),
            );
          else if (!haveCertificate)
            io.stdout(
              `agent: no certificate yet from the CA at ${hostPort(ca)} (attempt ${failures}: ${errorMessage(err)}); retrying with backoff - check --ca-address and that the control plane runs\n`,
            );
          throw err;
        }
      },
      close: () => inner.close(),
    };
    const client = new CaClient({
      requester,
      credential: fileCredential(credentialFile),
      clock: systemClock,
      random: systemRandom,
      logger: logger.child('ca'),
      ...(ttl > 0 ? { ttlSeconds: ttl } : {}),
    });
    const options: WorkloadAgentOptions = {
      certificates: client,
      clock: systemClock,
      logger,
      ...(sdsSocket !== undefined ? { sdsSocket } : {}),
      ...(certDir !== undefined ? { certDir } : {}),
      ...(values['envoy-bootstrap'] !== undefined
        ? {
            envoyBootstrap: {
              file: path.resolve(cwd, values['envoy-bootstrap']),
              options: { workload, xds, adminPort, ...(values.id ? { nodeId: values.id } : {}) },
            },
          }
        : {}),
      ...(grpcFlag !== undefined
        ? {
            grpcBootstrap: {
              file: path.resolve(cwd, grpcFlag),
              options: { workload, xdsAddress: hostPort(xds), ...(values.id ? { nodeId: values.id } : {}) },
            },
          }
        : {}),
    };
    const stopping = untilSignal();
    // The CA client's timers do not hold the process open; the agent runs until told to stop.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const agent = await WorkloadAgent.start(options).catch((err: unknown) => {
      clearInterval(keepAlive);
      client.close();
      throw err;
    });
    const where = [
      sdsSocket !== undefined ? `SDS on ${sdsSocket}` : '',
      options.envoyBootstrap ? `Envoy bootstrap ${options.envoyBootstrap.file}` : '',
      certDir !== undefined ? `files in ${certDir}` : '',
      options.grpcBootstrap ? `gRPC bootstrap ${options.grpcBootstrap.file}` : '',
    ].filter(Boolean);
    io.stdout(`agent: asking the CA at ${hostPort(ca)} for a certificate; ${where.join(', ')}\n`);
    client.start();
    const stop = async (code: number) => {
      clearInterval(keepAlive);
      await agent.close();
      client.close();
      return code;
    };
    const first = await Promise.race([
      agent.ready.then(
        (c) => ({ cert: c }),
        (err: unknown) => ({ error: err }),
      ),
      refused.then((err) => ({ error: err })),
      stopping.then((sig) => ({ signal: sig })),
    ]);
    if ('error' in first) {
      await stop(1);
      throw first.error;
    }
    if ('signal' in first) {
      io.stdout(`agent: ${first.signal} before the first certificate, stopped\n`);
      return stop(0);
    }
    haveCertificate = true;
    io.stdout(
      `agent ready: workload certificate ${first.cert.identity}, valid until ${first.cert.notAfter.toISOString()}; ${where.join(', ')}\n`,
    );
    client.onChange((c) =>
      io.stdout(`agent: renewed ${c.identity}, valid until ${c.notAfter.toISOString()}\n`),
    );

    if (positionals.length > 0) {
      const [cmd, ...args] = positionals as [string, ...string[]];
      const child = spawn(cmd, args, {
        cwd,
        stdio: 'inherit',
        env: {
          ...io.env,
          ...(options.grpcBootstrap ? { GRPC_XDS_BOOTSTRAP: options.grpcBootstrap.file } : {}),
        },
      });
      const exited = new Promise<number>((resolve) => {
        // A child ended by a signal exits as a shell reports it: 128 + the signal's number.
        child.on('exit', (code, signal) =>
          resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)),
        );
        child.on('error', (err) => {
          io.stderr(`trellis agent: cannot run ${cmd}: ${err.message}; check the command after --\n`);
          resolve(127);
        });
      });
      io.stdout(`agent: started ${cmd} (pid ${child.pid ?? '?'})\n`);
      const outcome = await Promise.race([
        exited.then((code) => ({ code })),
        stopping.then((sig) => ({ sig })),
      ]);
      if ('sig' in outcome) {
        io.stdout(`agent: ${outcome.sig}, stopping ${cmd}\n`);
        child.kill(outcome.sig);
        const code = await exited;
        return stop(code);
      }
      io.stdout(`agent: ${cmd} exited with ${outcome.code}\n`);
      return stop(outcome.code);
    }
    const sig = await stopping;
    io.stdout(`agent: ${sig}, stopped\n`);
    return stop(0);
  },
};
