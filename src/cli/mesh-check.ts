/**
 * `trellis check`, as `linkerd check`: what is wrong with this mesh, each finding with a hint.
 * Pure over what the command gathered (control plane readiness and version, the proxies' sync
 * state, their certificates, the control plane's config problems): table-tested.
 */
import { formatAge } from './table.js';
import type { ConnectedProxy } from './connected-proxies.js';
import { shortName } from './proxy-names.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  section: string;
  status: CheckStatus;
  message: string;
  hint?: string;
}

export interface CertificateInfo {
  proxy: string;
  secret: string;
  subject: string;
  notAfterMs: number;
}

/** One entry of /debug/config_errors: a rejected input (file, doc) or a warning (resource). */
export interface ConfigProblemEntry {
  source: { file?: string; doc?: number; api?: string; kind?: string; namespace?: string; name?: string };
  problems: { severity: string; path: string; message: string }[];
  servingLastGood?: boolean;
}

export interface CheckInput {
  controlPlane: string;
  reachable: { ok: true; ready: boolean; version?: string } | { ok: false; error: string };
  clientVersion: string;
  proxies: readonly ConnectedProxy[];
  /** Per proxy whose admin was read; `unreadable` lists those that could not be. */
  certificates: readonly CertificateInfo[];
  unreadable: readonly { proxy: string; error: string }[];
  configProblems: readonly ConfigProblemEntry[];
  nowMs: number;
  /** A certificate closer than this to its end is a warning (default 24 h). */
  expiryWarningMs?: number;
}

/** `45s`, `3h`, `2d` (kubectl's AGE units). */
const formatDuration = (ms: number): string => formatAge(0, ms);

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function where(e: ConfigProblemEntry): string {
  const s = e.source;
  if (s.kind !== undefined)
    return `${s.kind} ${s.namespace ?? ''}/${s.name ?? ''}${s.file ? ` (${s.file})` : ''}`;
  if (s.file !== undefined) return `${s.file}${s.doc !== undefined ? `:${s.doc}` : ''}`;
  return s.api ?? 'the API';
}

export function evaluateChecks(input: CheckInput): Finding[] {
  const out: Finding[] = [];
  const cp = 'control plane';
  if (!input.reachable.ok) {
    out.push({
      section: cp,
      status: 'fail',
      message: `cannot reach the control plane at ${input.controlPlane}: ${input.reachable.error}`,
      hint: "start it with 'trellis up' or 'trellis control-plane', or point at it with --control-plane URL or $TRELLIS_CONTROL_PLANE",
    });
    return out;
  }
  out.push({ section: cp, status: 'ok', message: `control plane is reachable at ${input.controlPlane}` });
  out.push(
    input.reachable.ready
      ? { section: cp, status: 'ok', message: 'control plane is ready' }
      : {
          section: cp,
          status: 'fail',
          message: 'control plane is not ready (its /ready answers 503)',
          hint: "it is still loading its config; if this lasts, read its log ('trellis up' prints it)",
        },
  );
  const v = input.reachable.version;
  if (v !== undefined && v !== input.clientVersion) {
    out.push({
      section: cp,
      status: 'warn',
      message: `control plane version ${v} differs from this client's ${input.clientVersion}`,
      hint: "use the trellis that matches the control plane ('trellis version')",
    });
  }

  const px = 'proxies';
  if (input.proxies.length === 0) {
    out.push({
      section: px,
      status: 'warn',
      message: 'no proxies are connected',
      hint: "start the mesh's workloads with 'trellis up', or a proxy with 'trellis proxy --xds HOST:PORT'",
    });
  } else {
    out.push({
      section: px,
      status: 'ok',
      message: `${plural(input.proxies.length, 'proxy', 'proxies')} connected`,
    });
  }
  let inSync = 0;
  for (const p of [...input.proxies].sort((a, b) => shortName(a).localeCompare(shortName(b)))) {
    const name = shortName(p);
    const types = Object.entries(p.types);
    const nacks = types.filter(([, t]) => t.status === 'NACK');
    const stale = types.filter(([, t]) => t.status === 'STALE');
    for (const [type, t] of nacks) {
      out.push({
        section: px,
        status: 'fail',
        message: `${name} rejected ${type} version ${t.lastNack?.version ?? t.lastSentVersion} (runs version ${t.lastAckedVersion || 'none'}): ${t.lastNack?.message ?? 'no detail'}`,
        hint: `fix the config the error names; 'trellis proxy-status ${name}' shows the versions`,
      });
    }
    if (stale.length) {
      out.push({
        section: px,
        status: 'warn',
        message: `${name} has not yet acknowledged ${stale.map(([t]) => t).join(', ')}`,
        hint: `a push in flight settles in a moment; if it stays, the proxy is stuck: 'trellis proxy-status ${name}'`,
      });
    }
    if (!nacks.length && !stale.length) inSync++;
  }
  if (input.proxies.length > 0 && inSync === input.proxies.length) {
    out.push({ section: px, status: 'ok', message: `every proxy runs the config it was last sent` });
  }

  const certs = 'certificates';
  const warnMs = input.expiryWarningMs ?? 24 * 3600_000;
  let certOk = 0;
  for (const c of input.certificates) {
    const left = c.notAfterMs - input.nowMs;
    const what = `${c.proxy} ${c.secret} (${c.subject})`;
    if (left <= 0) {
      out.push({
        section: certs,
        status: 'fail',
        message: `${what} expired ${formatDuration(-left)} ago`,
        hint: "the proxy cannot renew it: check that it reaches the control plane's CA (its log says why)",
      });
    } else if (left < warnMs) {
      out.push({
        section: certs,
        status: 'warn',
        message: `${what} expires in ${formatDuration(left)}`,
        hint: 'workload certificates renew at half their life; a root or intermediate near its end needs rotating (docs/ARCHITECTURE.md, Root rotation)',
      });
    } else certOk++;
  }
  for (const u of input.unreadable) {
    out.push({
      section: certs,
      status: 'warn',
      message: `cannot read ${u.proxy}'s certificates: ${u.error}`,
      hint: "an Envoy or older proxy reports no admin address; check it with 'trellis proxy-config secret --admin URL'",
    });
  }
  if (certOk > 0)
    out.push({
      section: certs,
      status: 'ok',
      message: `${plural(certOk, 'certificate')} valid for more than ${formatDuration(warnMs)}`,
    });

  const cfg = 'config';
  let rejected = 0;
  let warnings = 0;
  for (const e of input.configProblems) {
    for (const p of e.problems) {
      const isWarning = p.severity === 'warning';
      if (isWarning) warnings++;
      else rejected++;
      out.push({
        section: cfg,
        status: isWarning ? 'warn' : 'fail',
        message: `${where(e)}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
        ...(isWarning
          ? {}
          : {
              hint:
                e.servingLastGood === true
                  ? 'rejected; the last good version of this file keeps serving until it is fixed'
                  : 'rejected; fix it (trellis analyze FILE shows every problem)',
            }),
      });
    }
  }
  if (rejected === 0 && warnings === 0)
    out.push({ section: cfg, status: 'ok', message: 'no config errors or warnings' });
  return out;
}

const MARK: Record<CheckStatus, string> = { ok: '√', warn: '‼', fail: '×' };

export function renderChecks(findings: readonly Finding[]): string {
  const lines: string[] = [];
  let section = '';
  for (const f of findings) {
    if (f.section !== section) {
      if (section !== '') lines.push('');
      section = f.section;
      lines.push(section, '-'.repeat(section.length));
    }
    lines.push(`${MARK[f.status]} ${f.message}`);
    if (f.hint && f.status !== 'ok') lines.push(`    hint: ${f.hint}`);
  }
  const fails = findings.filter((f) => f.status === 'fail').length;
  const warns = findings.filter((f) => f.status === 'warn').length;
  lines.push(
    '',
    fails > 0
      ? `Status check results are × (${plural(fails, 'problem')}${warns ? `, ${plural(warns, 'warning')}` : ''})`
      : `Status check results are √${warns ? ` (${plural(warns, 'warning')})` : ''}`,
  );
  return lines.join('\n') + '\n';
}
