/**
 * What the fuzzer asserts about the requests the backend received (issue #10: "no request
 * forwarded that the client did not send as one"). Every request a case sends carries a unique
 * `x-fuzz-id`, registered here with how valid it was; request-shaped bytes the client did *not*
 * send as a request (a payload inside a body, bytes behind an upgrade head) carry ids that are
 * never registered and target `/admin/smuggled`, which no route allows.
 */
import type { RecordingBackend } from './recording-backend.js';

/**
 * `valid`: well-formed; `maybe`: RFC 9112 lets a server accept or reject it (bare LF, obs-fold,
 * CL with TE, a cut-off body, random byte flips); `invalid`: RFC 9112 says reject (a NUL in a
 * method or field name, an invalid Content-Length, a missing Host...), or it follows such a
 * request or a broken body on the same connection, where no later request can be framed.
 */
export type Validity = 'valid' | 'maybe' | 'invalid';

interface Sent {
  caseId: string;
  validity: Validity;
  what: string;
}

export class Ledger {
  private readonly sent = new Map<string, Sent>();
  private readonly forwarded = new Set<string>();
  /** Requests a case may legitimately have forwarded (valid + maybe). */
  private readonly allowance = new Map<string, number>();
  private checkedSeen = 0;
  private checkedErrors = 0;
  private checkedUnrouted = 0;

  send(caseId: string, id: string, validity: Validity, what: string): void {
    this.sent.set(id, { caseId, validity, what });
    if (validity !== 'invalid') this.allowance.set(caseId, (this.allowance.get(caseId) ?? 0) + 1);
  }

  /** Violations in what the backend recorded since the last check. */
  check(backend: RecordingBackend): string[] {
    const out: string[] = [];
    const perCase = new Map<string, number>();
    for (const seen of backend.seen.slice(this.checkedSeen)) {
      const at = `${seen.kind} ${seen.method} ${JSON.stringify(seen.path)} id=${seen.id ?? '-'}`;
      const pathProblem = pathViolation(seen.path);
      if (pathProblem) out.push(`backend got a path ${pathProblem}: ${at}`);
      if (seen.id === undefined) {
        out.push(`backend got a request without x-fuzz-id: ${at}`);
        continue;
      }
      const sent = this.sent.get(seen.id);
      if (!sent) {
        out.push(`backend got a request the client never sent as one (smuggled): ${at}`);
        continue;
      }
      if (sent.validity === 'invalid')
        out.push(`backend got a request the proxy had to reject (${sent.what}): ${at}`);
      if (this.forwarded.has(seen.id)) out.push(`backend got the same request twice: ${at}`);
      this.forwarded.add(seen.id);
      perCase.set(sent.caseId, (perCase.get(sent.caseId) ?? 0) + 1);
    }
    this.checkedSeen = backend.seen.length;
    for (const [caseId, n] of perCase) {
      const allowed = this.allowance.get(caseId) ?? 0;
      if (n > allowed) out.push(`case ${caseId}: backend saw ${n} requests, client sent ${allowed}`);
    }
    for (const e of backend.parseErrors.slice(this.checkedErrors))
      out.push(`backend could not parse what the proxy forwarded (${e.code}): ${JSON.stringify(e.bytes)}`);
    this.checkedErrors = backend.parseErrors.length;
    for (const u of backend.unroutedBytes.slice(this.checkedUnrouted))
      out.push(
        `raw bytes reached an upgrade socket without a 101 (id=${u.id ?? '-'}): ${JSON.stringify(u.bytes)}`,
      );
    this.checkedUnrouted = backend.unroutedBytes.length;
    return out;
  }
}

const UNRESERVED = /[A-Za-z0-9._~-]/;

/**
 * Why a path the backend received could not have come out of routing on `/public` with
 * normalize_path on (Envoy's RFC 3986 normalization; escaped slashes kept, as Istio's BASE).
 */
export function pathViolation(path: string): string | undefined {
  if (!path.startsWith('/public')) return 'outside /public';
  if (/[^\x21-\x7e]/.test(path)) return 'with raw bytes';
  if (path.includes('#')) return 'with a fragment';
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  if (p.split('/').some((s) => s === '.' || s === '..')) return 'with dot segments';
  if (p.includes('\\')) return 'with a backslash';
  for (const m of p.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    if (UNRESERVED.test(String.fromCharCode(parseInt(m[1]!, 16)))) return 'with an escaped unreserved byte';
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(p)) return 'with a malformed escape';
  return undefined;
}
