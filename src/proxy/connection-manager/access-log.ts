/**
 * Envoy-style access log lines, written when a listener's HCM (or TCP proxy) configures a file
 * or stdout access logger. Supports the command operators Envoy's default format uses, plus a
 * few more; unknown operators print `-` (Envoy rejects them, but the format was validated
 * loosely at conversion and a log line must never fail a request).
 */
import fs from 'node:fs';
import type { AccessLogConfig } from '../model/config.js';
import { flagsText } from './response-flags.js';
import type { StreamInfo } from './stream-info.js';

export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

const OPERATOR = /%([A-Z_]+)(?:\(([^)]*)\))?%/g;

export function formatAccessLog(format: string, info: StreamInfo): string {
  return format.replace(OPERATOR, (_m, op: string, arg: string | undefined) => operator(op, arg ?? '', info));
}

/** Operators whose value Envoy's JSON formatter prints as a number. */
const NUMERIC = new Set([
  'RESPONSE_CODE',
  'BYTES_RECEIVED',
  'BYTES_SENT',
  'DURATION',
  'UPSTREAM_REQUEST_ATTEMPT_COUNT',
]);
const SINGLE = /^%([A-Z_]+)(?:\(([^)]*)\))?%$/;

/**
 * `json_format`: one object per line. A value that is one operator alone prints as Envoy's JSON
 * formatter does: a number for numeric operators, null where the text form prints `-`.
 */
export function formatJsonAccessLog(fields: Readonly<Record<string, string>>, info: StreamInfo): string {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    const single = SINGLE.exec(f);
    if (single === null) {
      out[k] = formatAccessLog(f, info);
      continue;
    }
    const v = operator(single[1] ?? '', single[2] ?? '', info);
    out[k] = v === '-' ? null : NUMERIC.has(single[1] ?? '') && /^\d+$/.test(v) ? Number(v) : v;
  }
  return JSON.stringify(out);
}

function header(info: StreamInfo, spec: string): string {
  for (const alt of spec.split('?')) {
    const name = alt.toLowerCase();
    let v: string | string[] | undefined;
    if (name === ':method') v = info.method;
    else if (name === ':path') v = info.path;
    else if (name === ':authority') v = info.authority;
    // The generated id is part of the request as forwarded, as in Envoy.
    else if (name === 'x-request-id') v = info.requestId;
    else v = info.requestHeaders[name];
    if (v !== undefined && v !== '') return Array.isArray(v) ? v.join(',') : v;
  }
  return '-';
}

function operator(op: string, arg: string, info: StreamInfo): string {
  switch (op) {
    case 'START_TIME':
      return new Date(info.startWallMs).toISOString();
    case 'REQ':
      return header(info, arg.split(':').length > 2 ? arg : arg.replace(/:(\d+)$/, ''));
    case 'RESP':
      return arg.toUpperCase() === 'X-ENVOY-UPSTREAM-SERVICE-TIME' && info.upstreamServiceTimeMs !== undefined
        ? String(info.upstreamServiceTimeMs)
        : '-';
    case 'PROTOCOL':
      return info.protocol;
    case 'RESPONSE_CODE':
      return String(info.status);
    case 'RESPONSE_FLAGS':
      return flagsText(info.flags);
    case 'BYTES_RECEIVED':
      return String(info.bytesReceived);
    case 'BYTES_SENT':
      return String(info.bytesSent);
    case 'DURATION':
      return String(Math.round(info.durationMs));
    case 'UPSTREAM_HOST':
      return info.upstreamHost ?? '-';
    case 'UPSTREAM_CLUSTER':
    case 'UPSTREAM_CLUSTER_RAW':
      return info.upstreamCluster ?? '-';
    case 'ROUTE_NAME':
      return info.routeName || '-';
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      return info.downstreamRemote || '-';
    case 'UPSTREAM_REQUEST_ATTEMPT_COUNT':
      return String(info.attempts);
    case 'GRPC_STATUS_NUMBER':
      return info.grpcStatus ?? '-';
    case 'RESPONSE_CODE_DETAILS':
      return info.responseCodeDetails ?? (info.upstreamServiceTimeMs !== undefined ? 'via_upstream' : '-');
    case 'DOWNSTREAM_PEER_URI_SAN':
      return info.downstreamSecurity?.peerUriSan ?? '-';
    case 'DOWNSTREAM_LOCAL_URI_SAN':
      return info.downstreamSecurity?.localUriSan ?? '-';
    case 'DOWNSTREAM_TLS_VERSION':
      return info.downstreamSecurity?.tlsVersion ?? '-';
    case 'DOWNSTREAM_TLS_CIPHER':
      return info.downstreamSecurity?.tlsCipher ?? '-';
    case 'REQUESTED_SERVER_NAME':
      return info.downstreamSecurity?.sni ?? '-';
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON':
      return info.upstreamTransportFailureReason ?? '-';
    default:
      return '-';
  }
}

/** The /stats counter of CEL access log filter evaluations that failed (each logged nothing). */
export const ACCESS_LOG_FILTER_ERRORS = 'access_log.cel_filter.evaluation_errors';

export interface AccessLogSink {
  write(line: string): void;
}

/** One open stream per file path, shared by every listener that logs there. */
/**
 * The runtime access log switch (admin `POST /access_log?state=`): `config` logs what xDS
 * configures; `on` also logs every request of a listener that configures none, to stdout in the
 * default format; `off` writes nothing.
 */
export type AccessLogSwitch = 'config' | 'on' | 'off';

const FORCED: readonly AccessLogConfig[] = [{}];

export class AccessLogWriter {
  private readonly files = new Map<string, fs.WriteStream>();
  /** See AccessLogSwitch. */
  state: AccessLogSwitch = 'config';
  /** Sees every finished stream first, whatever the switch (the admin's tap, only while tapped). */
  observer: ((info: StreamInfo) => void) | undefined = undefined;
  /** Sees every finished stream before the observer (the admin's ring of recent failures). */
  recorder: ((info: StreamInfo) => void) | undefined = undefined;

  /** Told of each CEL filter evaluation that failed (counted on /stats). */
  onFilterError: (() => void) | undefined = undefined;

  constructor(private readonly stdout: AccessLogSink = { write: (l) => void process.stdout.write(l) }) {}

  log(configs: readonly AccessLogConfig[], info: StreamInfo): void {
    this.recorder?.(info);
    this.observer?.(info);
    if (this.state === 'off') return;
    if (configs.length === 0 && this.state === 'on') configs = FORCED;
    for (const c of configs) {
      // The CEL filter (a Telemetry filter expression): a failed evaluation logs nothing.
      if (c.filter !== undefined && !c.filter.matches(info, this.onFilterError)) continue;
      let line =
        c.json !== undefined
          ? formatJsonAccessLog(c.json, info)
          : formatAccessLog(c.format ?? DEFAULT_FORMAT, info);
      if (!line.endsWith('\n')) line += '\n';
      if (c.path === undefined) {
        this.stdout.write(line);
        continue;
      }
      let f = this.files.get(c.path);
      if (!f) {
        f = fs.createWriteStream(c.path, { flags: 'a' });
        // A broken log file must not take the proxy down; the error is visible once.
        f.on('error', (err) => process.stderr.write(`access log ${c.path ?? ''}: ${err.message}\n`));
        this.files.set(c.path, f);
      }
      f.write(line);
    }
  }

  close(): void {
    for (const f of this.files.values()) f.end();
    this.files.clear();
  }
}
