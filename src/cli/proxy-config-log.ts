/**
 * `trellis proxy-config log PROXY [--level L] [--access-log on|off|config]`: changes a proxy's
 * log level (Envoy's `POST /logging?level=`) and access log (the Trellis admin route
 * `POST /access_log?state=`) at runtime through its admin endpoint, then prints the state.
 * PROXY is found through the control plane, which lists each proxy's admin address (node
 * metadata ADMIN_ADDRESS); --admin URL talks to one proxy directly.
 */
import { TrellisError, errorMessage } from '../core/errors.js';
import type { CommandIo } from './command.js';
import { parseFlags } from './args.js';
import { findProxy } from './connected-proxies.js';
import { controlPlaneUrl } from './http-client.js';
import { shortName } from './proxy-names.js';

export const LOG_USAGE = `Usage: trellis proxy-config log PROXY [--level LEVEL] [--access-log on|off|config] [-o text|json]
       trellis proxy-config log --admin URL [--level LEVEL] [--access-log on|off|config]

Changes a running proxy's log level and access log through its admin endpoint, and prints both.
Without --level or --access-log it only prints them.

  --level LEVEL         debug, info, warning or error (Envoy's trace, critical and off too)
  --access-log STATE    on: every request to stdout, also on listeners with no access log
                        configured; off: none; config: what the mesh config says (the default)
  --admin URL           the proxy's admin endpoint (otherwise found through the control plane)
  --control-plane URL   the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                        http://127.0.0.1:15014)

Example:
  trellis proxy-config log productpage-v1 --level debug --access-log on`;

const LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off'];
const ACCESS = ['on', 'off', 'config'];

/** `127.0.0.1:15000`, `http://host:port/` -> `http://host:port`. */
export function adminBaseUrl(value: string): string {
  return (/^https?:\/\//.test(value) ? value : `http://${value}`).replace(/\/+$/, '');
}

/** A proxy's reported admin address as a URL the CLI can dial (a wildcard bind means loopback). */
export function dialableAdmin(address: string): string {
  return adminBaseUrl(address.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:'));
}

async function admin(method: string, url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { method });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `cannot reach the proxy's admin endpoint at ${url} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); is the proxy running? Pass --admin URL to name it directly`,
    );
  }
}

async function expectAdminOk(method: string, url: string): Promise<string> {
  const r = await admin(method, url);
  if (r.status !== 200)
    throw new TrellisError('TRELLIS_IO', `${method} ${url}: HTTP ${r.status}: ${r.text.trim()}`);
  return r.text;
}

export async function runLog(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseFlags('proxy-config', argv, {
    level: { type: 'string' },
    'access-log': { type: 'string' },
    admin: { type: 'string' },
    'control-plane': { type: 'string' },
    output: { type: 'string', short: 'o', default: 'text' },
  });
  const [proxy, extra] = positionals;
  if (extra !== undefined || (proxy === undefined) === (values.admin === undefined)) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      "expected log PROXY or log --admin URL (one of them); run 'trellis proxy-config log --help'",
    );
  }
  const level = values.level?.toLowerCase();
  if (level !== undefined && !LEVELS.includes(level)) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--level ${JSON.stringify(values.level)}: expected debug, info, warning or error`,
    );
  }
  const access = values['access-log']?.toLowerCase();
  if (access !== undefined && !ACCESS.includes(access)) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--access-log ${JSON.stringify(values['access-log'])}: expected on, off or config`,
    );
  }
  if (values.output !== 'text' && values.output !== 'json') {
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `-o ${String(values.output)}: expected text or json`);
  }

  let base: string;
  let name: string;
  if (values.admin !== undefined) {
    base = adminBaseUrl(values.admin);
    name = base;
  } else {
    const cp = controlPlaneUrl(values['control-plane'], io.env);
    const p = await findProxy(cp, proxy ?? '');
    name = shortName(p);
    if (!p.adminAddress) {
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        `proxy ${name} (${p.proxy}) did not report its admin address (an Envoy or an older Trellis proxy); pass --admin URL`,
      );
    }
    base = dialableAdmin(p.adminAddress);
  }

  if (level !== undefined) await expectAdminOk('POST', `${base}/logging?level=${encodeURIComponent(level)}`);
  if (access !== undefined) {
    const r = await admin('POST', `${base}/access_log?state=${encodeURIComponent(access)}`);
    if (r.status === 404) {
      throw new TrellisError(
        'TRELLIS_UNSUPPORTED',
        `${base} has no access log switch (/access_log is a Trellis proxy route; an Envoy sets access logs through the mesh config: Telemetry or EnvoyFilter)` +
          (level !== undefined ? `; the log level was set to ${level}` : ''),
      );
    }
    if (r.status !== 200)
      throw new TrellisError('TRELLIS_IO', `POST ${base}/access_log: HTTP ${r.status}: ${r.text.trim()}`);
  }

  const loggers = await expectAdminOk('GET', `${base}/logging`);
  const levels = [...loggers.matchAll(/^\s+([^:\s]+): (\w+)\s*$/gm)].map((m) => m[2] ?? '');
  const current = [...new Set(levels)].join(',') || 'unknown';
  const accessReply = await admin('GET', `${base}/access_log`);
  const accessState =
    accessReply.status === 200
      ? (/access_log: (\w+)/.exec(accessReply.text)?.[1] ?? 'unknown')
      : 'unsupported';
  if (values.output === 'json') {
    io.stdout(
      JSON.stringify({ proxy: name, admin: base, logLevel: current, accessLog: accessState }, null, 2) + '\n',
    );
  } else {
    io.stdout(`proxy: ${name} (admin ${base})\nlog level: ${current}\naccess log: ${accessState}\n`);
  }
  return 0;
}
