/**
 * Dialing the control plane over TLS (istiod's 15012): channel credentials verifying its
 * certificate against the root the user gave (`trellis proxy --xds-root-ca FILE`, Istio's
 * XDS_ROOT_CA), for ADS and the CA client alike, and the hint a failed dial gets when the
 * certificate did not verify, naming the flag to fix.
 *
 * Exports:
 *   ControlPlaneTls
 *   channelCredentials(tls): grpc.ChannelCredentials
 *   tlsFailureHint(tls, message): string | undefined
 */
import * as grpc from '@grpc/grpc-js';

export interface ControlPlaneTls {
  /** PEM roots the control plane's certificate must chain to. */
  rootCertsPem: string;
  /** Where they came from, for messages (`--xds-root-ca ca.pem`). */
  source: string;
}

export function channelCredentials(tls: ControlPlaneTls | undefined): grpc.ChannelCredentials {
  return tls ? grpc.credentials.createSsl(Buffer.from(tls.rootCertsPem)) : grpc.credentials.createInsecure();
}

const TLS_FAILURE =
  /certificate|self[- ]signed|unable to (get|verify)|SSL|TLS|handshake|wrong version number|Hostname\/IP does not match/i;

/** What to tell a user whose TLS dial failed; undefined when the failure is not about TLS. */
export function tlsFailureHint(tls: ControlPlaneTls | undefined, message: string): string | undefined {
  if (!tls || !TLS_FAILURE.test(message)) return undefined;
  return `the control plane's TLS certificate did not verify against ${tls.source} (or the address is not its TLS port, --secure-port, default 15012): pass the control plane's root certificate (trellis token create --root-cert-out FILE writes it) or dial its TLS port`;
}
