/**
 * How the proxy opens a connection to an endpoint: plain TCP, or TLS with the cluster's
 * UpstreamTlsContext (the workload's own certificate and trust bundle for mesh mTLS, or
 * secrets over ADS). The SecureContext is built from the secrets in force when a connection
 * opens and rebuilt when one of them changed (a rotation reaches new connections; open ones keep
 * theirs). The server chain is verified against the CA when the context has one (without one,
 * Envoy does not verify either), and its SANs against the matchers; any of that failing, or the
 * handshake failing, is a connection failure with Envoy's transport failure reason
 * (`TLS_error:|CERT_HAS_EXPIRED:...:TLS_error_end`), retried as a connect failure.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { SecretConfig, UpstreamTlsConfig } from '../model/config.js';
import { compilePeerChecks, type PeerCheck } from '../identity/peer-checks.js';
import type { SecretResolver } from '../identity/secret-resolver.js';
import { contextCiphers } from './transport-ciphers.js';

export interface UpstreamSocket {
  socket: net.Socket;
  /** The event after which the connection can carry a request: `connect`, or `secureConnect`. */
  readyEvent: 'connect' | 'secureConnect';
}

interface BuiltContext {
  certificate: SecretConfig | undefined;
  validation: SecretConfig | undefined;
  context: tls.SecureContext;
  check: PeerCheck | undefined;
}

export class UpstreamTransports {
  private readonly contexts = new Map<string, BuiltContext>();

  constructor(private readonly secrets: SecretResolver | undefined) {}

  /** A connection to `host:port`, TLS when `config` says so. Never throws: failures come as errors. */
  open(host: string, port: number, config: UpstreamTlsConfig | undefined): UpstreamSocket {
    if (config === undefined) return { socket: net.connect({ host, port }), readyEvent: 'connect' };
    let built: BuiltContext;
    try {
      built = this.context(config);
    } catch (err) {
      return { socket: failed(transportFailure((err as Error).message)), readyEvent: 'secureConnect' };
    }
    const check = built.check;
    // Nagle's algorithm stays off on the TCP socket under TLS too (setNoDelay on a TLS socket
    // does not reach it), or small responses wait for delayed ACKs.
    const tcp = net.connect({ host, port, noDelay: true });
    const socket = tls.connect({
      socket: tcp,
      host,
      secureContext: built.context,
      ...(config.sni !== undefined ? { servername: config.sni } : {}),
      ...(config.alpn.length > 0 ? { ALPNProtocols: [...config.alpn] } : {}),
      rejectUnauthorized: config.validation !== undefined,
      // Envoy checks the SAN matchers, never the host name against the certificate.
      checkServerIdentity: (_host, cert) => {
        if (check === undefined) return undefined;
        const reason = check(new X509Certificate(cert.raw));
        return reason === undefined ? undefined : Object.assign(new Error(reason), { code: 'SAN_MISMATCH' });
      },
    });
    return { socket, readyEvent: 'secureConnect' };
  }

  private context(config: UpstreamTlsConfig): BuiltContext {
    const certificate = config.certificate === undefined ? undefined : this.secrets?.get(config.certificate);
    const validation = config.validation === undefined ? undefined : this.secrets?.get(config.validation);
    if (config.certificate !== undefined && certificate?.kind !== 'tls_certificate')
      throw new Error(`secret ${JSON.stringify(config.certificate.name)} is not ready`);
    if (config.validation !== undefined && validation?.kind !== 'validation_context')
      throw new Error(`secret ${JSON.stringify(config.validation.name)} is not ready`);
    const held = this.contexts.get(config.key);
    if (held !== undefined && held.certificate === certificate && held.validation === validation) return held;
    const context = tls.createSecureContext({
      ...(certificate?.kind === 'tls_certificate'
        ? { cert: certificate.certificateChain, key: certificate.privateKey }
        : {}),
      ...(validation?.kind === 'validation_context' ? { ca: validation.trustedCa } : {}),
      ...(config.minVersion ? { minVersion: config.minVersion } : {}),
      ...(config.maxVersion ? { maxVersion: config.maxVersion } : {}),
      ciphers: contextCiphers(config.ciphers),
    });
    const built: BuiltContext = {
      certificate,
      validation,
      context,
      check: held?.check ?? compilePeerChecks(config),
    };
    this.contexts.set(config.key, built);
    return built;
  }
}

/** Envoy's wording of a TLS failure, for local replies and %UPSTREAM_TRANSPORT_FAILURE_REASON%. */
export function transportFailure(detail: string): string {
  return `TLS_error:|${detail}:TLS_error_end`;
}

/** An error on a TLS socket before it was secure: why, in Envoy's wording. */
export function tlsFailureReason(err: NodeJS.ErrnoException): string {
  if (err.code === 'TRANSPORT_FAILURE') return err.message;
  return transportFailure(err.code !== undefined ? `${err.code}:${err.message}` : err.message);
}

/** A socket that fails at once with `message` (the connection could not even be attempted). */
function failed(message: string): net.Socket {
  const socket = new net.Socket();
  process.nextTick(() => socket.destroy(Object.assign(new Error(message), { code: 'TRANSPORT_FAILURE' })));
  return socket;
}
