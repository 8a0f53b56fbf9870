import { createRequire } from 'node:module';
import { TrellisError, errorMessage } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { connectedProxies, type ConnectedProxy } from '../connected-proxies.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';
import {
  evaluateChecks,
  renderChecks,
  type CertificateInfo,
  type CheckInput,
  type ConfigProblemEntry,
} from '../mesh-check.js';
import { dialableAdmin } from '../proxy-config-log.js';
import { certificateExpiries, secretEntries } from '../proxy-config-secrets.js';
import { shortName } from '../proxy-names.js';

const require = createRequire(import.meta.url);

const USAGE = `Usage: trellis check [--control-plane URL] [-o text|json]

What is wrong with this mesh, as 'linkerd check', each finding with a hint:

  control plane   reachable, ready, the same version as this client
  proxies         connected; every proxy ACKed the config it was sent (a NACK is listed with the
                  version it rejected, the version it still runs and the proxy's error)
  certificates    each proxy's workload certificate and roots (read from its admin endpoint):
                  expired, or expiring within a day
  config          files the control plane rejected (it keeps serving their last good version)
                  and its warnings about accepted config (IST codes)

Exit 1 when something is wrong (×); warnings (‼) alone exit 0.`;

async function proxyCertificates(
  proxies: readonly ConnectedProxy[],
): Promise<{ certificates: CertificateInfo[]; unreadable: { proxy: string; error: string }[] }> {
  const certificates: CertificateInfo[] = [];
  const unreadable: { proxy: string; error: string }[] = [];
  await Promise.all(
    proxies.map(async (p) => {
      const name = shortName(p);
      // Proxyless gRPC clients have no admin endpoint and no SDS secrets of their own.
      if (p.type === 'grpc') return;
      if (!p.adminAddress) {
        unreadable.push({ proxy: name, error: 'it did not report its admin address' });
        return;
      }
      const url = `${dialableAdmin(p.adminAddress)}/config_dump`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        for (const c of certificateExpiries(secretEntries(await res.json())))
          certificates.push({ proxy: name, secret: c.secret, subject: c.subject, notAfterMs: c.notAfterMs });
      } catch (err) {
        unreadable.push({
          proxy: name,
          error: `${url}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`,
        });
      }
    }),
  );
  return { certificates, unreadable };
}

export const command: Command = {
  name: 'check',
  summary: 'Check the mesh: control plane, proxies in sync (NACKs), certificates, config problems.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('check', argv, {
      'control-plane': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    });
    if (positionals.length) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `unexpected argument ${JSON.stringify(positionals[0])}; run 'trellis check --help'`,
      );
    }
    if (values.output !== 'text' && values.output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected text or json`,
      );
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const input: CheckInput = {
      controlPlane: base,
      reachable: { ok: false, error: '' },
      clientVersion: (require('../../../package.json') as { version: string }).version,
      proxies: [],
      certificates: [],
      unreadable: [],
      configProblems: [],
      nowMs: Date.now(),
    };
    try {
      const ready = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(5000) });
      await ready.text();
      let version: string | undefined;
      try {
        version = ((await apiGet(base, '/version')) as { version?: string }).version;
      } catch {
        version = undefined; // an older control plane without /version
      }
      input.reachable = { ok: true, ready: ready.status === 200, ...(version ? { version } : {}) };
    } catch (err) {
      input.reachable = { ok: false, error: errorMessage((err as { cause?: unknown }).cause ?? err) };
    }
    if (input.reachable.ok) {
      input.proxies = await connectedProxies(base);
      Object.assign(input, await proxyCertificates(input.proxies));
      input.configProblems = (await apiGet(base, '/debug/config_errors')) as ConfigProblemEntry[];
    }
    const findings = evaluateChecks(input);
    io.stdout(values.output === 'json' ? JSON.stringify(findings, null, 2) + '\n' : renderChecks(findings));
    return findings.some((f) => f.status === 'fail') ? 1 : 0;
  },
};
