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
import type { AuthOutcome, ConsoleAuth } from './console/auth.js';

export interface WriteRequest {
  method: string;
  path: string;
  remoteAddress: string | undefined;
  authorization: string | undefined;
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

/** Whether `/v1` may serve this request; the console's own routes check their roles themselves. */
export function checkWrite(req: WriteRequest, auth: ConsoleAuth | undefined): WriteVerdict {
  if (READS.has(req.method) || !(req.path === '/v1' || req.path.startsWith('/v1/'))) return { ok: true };
  if (isLoopbackPeer(req.remoteAddress)) return { ok: true };
  if (auth === undefined)
    return {
      ok: false,
      status: 403,
      message: `writes through /v1 from ${req.remoteAddress ?? 'an unknown peer'} are refused: only clients on the control plane's machine may write without a token; start the control plane with --console-tokens and send an editor token (Authorization: Bearer TOKEN)`,
    };
  const who: AuthOutcome = auth.check(req.authorization, 'write');
  return who.ok ? { ok: true } : { ok: false, status: who.status, message: who.message };
}
