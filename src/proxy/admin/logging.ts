/**
 * The admin endpoint's runtime switches:
 *   POST /logging?level=LEVEL        Envoy's: the log level of every logger of the proxy (Envoy's
 *                                    names: trace, debug, info, warning, error, critical, off)
 *   GET|POST /logging                the active loggers and their level, Envoy's text format
 *   POST /access_log?state=on|off|config   a Trellis route: `on` logs every request to stdout,
 *                                    also where xDS configures no access log; `off` none;
 *                                    `config` what xDS configures (the start state)
 *   GET /access_log                  `access_log: STATE`
 * A change by GET is refused (405) as Envoy refuses it, so a crawler or a browser preload never
 * changes a proxy. Pure over the two handles it is given: table-tested.
 */
import type { LogLevel } from '../../core/logger.js';
import type { AccessLogSwitch } from '../connection-manager/access-log.js';

export interface AdminReply {
  status: number;
  body: string;
}

/** Envoy's level names -> ours (trace and critical fold into the nearest we have). */
const FROM_ENVOY: Record<string, LogLevel> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'error',
  off: 'silent',
};

const TO_ENVOY: Record<LogLevel, string> = {
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  error: 'error',
  silent: 'off',
};

export interface LevelHandle {
  readonly level: LogLevel;
  setLevel(level: LogLevel): void;
}

export interface AccessLogHandle {
  state: AccessLogSwitch;
}

const listing = (h: LevelHandle): string => `active loggers:\n  trellis: ${TO_ENVOY[h.level]}\n`;

export function loggingRoute(method: string, query: URLSearchParams, h: LevelHandle): AdminReply {
  const wanted = query.get('level');
  const others = [...query.keys()].filter((k) => k !== 'level');
  if (others.length) {
    return {
      status: 400,
      body: `unknown parameter ${others.map((k) => JSON.stringify(k)).join(', ')}; use /logging?level=LEVEL (Trellis sets every logger at once)\n`,
    };
  }
  if (wanted === null) return { status: 200, body: listing(h) };
  if (method !== 'POST')
    return { status: 405, body: 'changing the log level needs POST /logging?level=LEVEL\n' };
  const level = FROM_ENVOY[wanted.toLowerCase()];
  if (level === undefined) {
    return {
      status: 400,
      body: `unknown log level ${JSON.stringify(wanted)}; expected one of ${Object.keys(FROM_ENVOY).join(', ')}\n`,
    };
  }
  h.setLevel(level);
  return { status: 200, body: listing(h) };
}

const SWITCH: readonly AccessLogSwitch[] = ['config', 'on', 'off'];

export function accessLogRoute(method: string, query: URLSearchParams, h: AccessLogHandle): AdminReply {
  const wanted = query.get('state');
  if (wanted === null) return { status: 200, body: `access_log: ${h.state}\n` };
  if (method !== 'POST')
    return { status: 405, body: 'changing the access log needs POST /access_log?state=on|off|config\n' };
  const state = SWITCH.find((s) => s === wanted.toLowerCase());
  if (state === undefined) {
    return {
      status: 400,
      body: `unknown access log state ${JSON.stringify(wanted)}; expected on, off or config\n`,
    };
  }
  h.state = state;
  return { status: 200, body: `access_log: ${h.state}\n` };
}
