/**
 * Who may change the mesh through `/v1` (apply, delete, registrations): the control plane's HTTP
 * API serves the CLI without tokens, trusting clients on the same machine (loopback peers), and
 * the console behind bearer tokens. Once the HTTP API listens beyond loopback (`--http-address
 * 0.0.0.0:15014`, so the console can be reached), a remote peer could otherwise write through
 * `/v1` what the console's roles refuse it. So a write from a peer that is not loopback needs an
 * editor token from the console's token file; without a token file, such writes are refused.
 * Reads stay open (secrets are redacted by the config API).
 */
import { isIP } from 'node:net';
import os from 'node:os';
import type { AuthOutcome, ConsoleAuth } from './console/auth.js';

export interface WriteRequest {
  method: string;
  path: string;
  remoteAddress: string | undefined;
  authorization: string | undefined;
  /** The Host header as sent (absent: HTTP/1.0 or a test). */
  host?: string | undefined;
  /** The Origin header: browsers send it on cross-origin writes; the CLI never does. */
  origin?: string | undefined;
}

export type WriteVerdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** 127.0.0.0/8, ::1 and their IPv4-mapped spellings. An unknown peer is not loopback. */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** The host part of a Host header (`[::1]:15014` -> `::1`, `localhost:80` -> `localhost`). */
function hostPart(host: string): string {
  const m = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (m) return m[1]!.toLowerCase();
  return host.replace(/:\d*$/, '').toLowerCase();
}

/**
 * A Host a loopback client may name: a loopback address, `localhost` (and `*.localhost`), this
 * machine's host name, or the address the API listens on. Anything else from a loopback peer is a
 * browser that was pointed at 127.0.0.1 by a name it resolved (DNS rebinding), reading or writing
 * for a web page.
 */
export function isLocalHostName(host: string, listenHost: string | undefined): boolean {
  const h = hostPart(host);
  if (h === 'localhost' || h.endsWith('.localhost') || isLoopbackPeer(h)) return true;
  if (listenHost !== undefined && h === listenHost.toLowerCase()) return true;
  return h === os.hostname().toLowerCase();
}

/**
 * Whether the HTTP API may serve this request at all (DNS rebinding), then whether `/v1` may
 * write for it; the console's own routes check their roles themselves.
 */
export function checkWrite(
  req: WriteRequest,
  auth: ConsoleAuth | undefined,
  listenHost?: string,
): WriteVerdict {
  const loopback = isLoopbackPeer(req.remoteAddress);
  if (loopback && req.host !== undefined && !isLocalHostName(req.host, listenHost))
    return {
      ok: false,
      status: 403,
      message: `Host ${JSON.stringify(req.host)} is not this control plane's: a local client names it by 127.0.0.1, localhost or ${listenHost ?? 'its address'} (a page that resolved another name to 127.0.0.1 is refused)`,
    };
  if (READS.has(req.method) || !(req.path === '/v1' || req.path.startsWith('/v1/'))) return { ok: true };
  if (req.origin !== undefined)
    return {
      ok: false,
      status: 403,
      message: `writes through /v1 from a web page (Origin ${req.origin}) are refused: use trellis apply, or the console, whose API checks its tokens`,
    };
  if (loopback) return { ok: true };
  if (auth === undefined)
    return {
      ok: false,
      status: 403,
      message: `writes through /v1 from ${req.remoteAddress ?? 'an unknown peer'} are refused: only clients on the control plane's machine may write without a token; start the control plane with --console-tokens and send an editor token (Authorization: Bearer TOKEN)`,
    };
  const who: AuthOutcome = auth.check(req.authorization, 'write');
  return who.ok ? { ok: true } : { ok: false, status: who.status, message: who.message };
}
