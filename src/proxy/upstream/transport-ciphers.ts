/**
 * The cipher string the proxy's TLS contexts (upstream connections and TLS listeners) are built
 * with: Envoy's behaviour on OpenSSL's names.
 *
 * - TLS 1.3 suites come in BoringSSL's order on hardware with AES instructions (Envoy's, so
 *   Istio's): AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305. OpenSSL's (and node's) default puts
 *   AES-256-GCM first; AES-128-GCM costs less per record and is what two Envoys negotiate. As a
 *   client the proxy offers AES-128-GCM first; as a server OpenSSL picks the first suite of this
 *   list that the client offers. Every suite stays offered and accepted (no weaker than Istio's
 *   defaults: these are all of TLS 1.3's AEAD suites in Envoy's order).
 * - Envoy's `tls_params.cipher_suites` apply to TLS 1.2 and below only; TLS 1.3 suites cannot be
 *   configured there, so a configured list gets the TLS 1.3 suites above in front of it (given
 *   alone, node would keep OpenSSL's TLS 1.3 order, AES-256-GCM first).
 */
import tls from 'node:tls';

/** BoringSSL's TLS 1.3 order with AES hardware (ssl_cipher.cc: kCiphers with AES preference). */
export const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

const isTls13 = (name: string) => name.startsWith('TLS_');

/** Node's default TLS 1.2 list (its TLS 1.3 suites left out: ours come first, in our order). */
const DEFAULT_TLS12 = tls.DEFAULT_CIPHERS.split(':').filter((c) => c !== '' && !isTls13(c));

/**
 * The `ciphers` option for a secure context: the TLS 1.3 suites in Envoy's order, then the
 * configured TLS 1.2 list (`cipher_suites` joined with `:`) or node's default one. TLS 1.3
 * suites named in the configured list (OpenSSL's names, which Envoy would not take there) are
 * kept as given instead.
 */
export function contextCiphers(configured: string | undefined): string {
  if (configured === undefined) return [...TLS13_SUITES, ...DEFAULT_TLS12].join(':');
  const names = configured.split(':').filter((c) => c !== '');
  const tls13 = names.filter(isTls13);
  return [...(tls13.length > 0 ? tls13 : TLS13_SUITES), ...names.filter((c) => !isTls13(c))].join(':');
}
