/**
 * The x-forwarded-client-cert (XFCC) header, as Envoy's connection manager sets it
 * (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert):
 * on a connection that is not mTLS the header a client sent is removed (only ALWAYS_FORWARD_ONLY
 * keeps it), so nobody can claim a certificate by writing a header; on an mTLS connection it is
 * removed (SANITIZE), kept (FORWARD_ONLY), appended to (APPEND_FORWARD) or replaced (SANITIZE_SET)
 * with `By=<our URI>;Hash=<peer DER sha256>;Subject="...";URI=<peer URI>;DNS=<peer DNS>`.
 * Pure; table-tested.
 */
import type { ForwardClientCert } from '../model/config.js';
import type { ConnectionSecurity, OutHeaders } from './downstream.js';

export const XFCC = 'x-forwarded-client-cert';

/** The current connection's element: By and Hash always, the rest as configured. */
export function xfccElement(sec: ConnectionSecurity, config: ForwardClientCert): string {
  const parts: string[] = [];
  if (sec.localUriSan !== undefined) parts.push(`By=${sec.localUriSan.split(',')[0]}`);
  parts.push(`Hash=${sec.peerCertificateHash ?? ''}`);
  if (config.subject && sec.peerSubject !== undefined)
    parts.push(`Subject="${sec.peerSubject.replace(/["\\]/g, (c) => `\\${c}`)}"`);
  if (config.uri && sec.peerUriSan !== undefined)
    for (const uri of sec.peerUriSan.split(',')) parts.push(`URI=${uri}`);
  if (config.dns) for (const dns of sec.peerDnsSans ?? []) parts.push(`DNS=${dns}`);
  return parts.join(';');
}

/** Rewrites `headers` (the request as it goes upstream) for the connection's security. */
export function applyForwardClientCert(
  headers: OutHeaders,
  security: ConnectionSecurity | undefined,
  config: ForwardClientCert | undefined,
): void {
  const mode = config?.mode ?? 'SANITIZE';
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  const mutual = security?.policy === 'mutual_tls';
  if (!mutual || mode === 'SANITIZE') {
    delete headers[XFCC];
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  const element = xfccElement(security, config!);
  const existing = headers[XFCC];
  const before = existing === undefined ? '' : Array.isArray(existing) ? existing.join(',') : existing;
  headers[XFCC] = mode === 'APPEND_FORWARD' && before !== '' ? `${before},${element}` : element;
}
