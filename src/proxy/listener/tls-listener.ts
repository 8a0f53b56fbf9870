/**
 * A bound listener whose filter chains terminate TLS: gateway servers (`tls.mode: SIMPLE` or
 * `MUTUAL`, certificates over ADS) and sidecar inbound listeners (mesh mTLS with the workload's
 * own `default` certificate and `ROOTCA` bundle; STRICT has TLS chains only, PERMISSIVE also
 * plain-text ones). Per connection, as Envoy does it:
 *
 *   1. TLS inspector: read the ClientHello (client-hello.ts) for SNI and ALPN, or see plain text;
 *   2. filter chain match: port, SNI, TLS vs plain, ALPN (filter-chain-match.ts);
 *   3. the chain's transport socket: a TLS handshake with a SecureContext built from the
 *      secrets the chain names (certificate chains + keys; for MUTUAL the client CA, clients
 *      without a valid certificate refused). ALPN: the chain's first protocol the client also
 *      offers; none in common is not an error (as BoringSSL in Envoy: no ALPN is negotiated);
 *   4. the socket (decrypted, or plain text) goes to the chain's network filter: the HTTP
 *      connection manager (HttpListener.accept tells HTTP/2 from HTTP/1.1 by the first bytes)
 *      or the TCP proxy, with what the handshake proved (ConnectionSecurity: the peer's
 *      principal, ours, SNI, ALPN, version) for RBAC, the access log and the metrics.
 *
 * A chain whose secrets have not arrived yet is warming: Envoy would not serve the listener,
 * here its handshakes are refused (connection closed before any byte is written) with one log
 * line naming the missing secrets, and another when they arrive. A chain that served before
 * keeps serving with its previous TLS context until the secrets of its new config are all here
 * (Envoy keeps the old listener until the new one warmed). Plain text is never served in place
 * of TLS. A rotated secret applies to new connections; open ones keep theirs. Client
 * certificates are also checked against the SANs, SPKI and hashes the validation context pins.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/logger.js';
import { listenOn } from '../../core/net.js';
import type {
  DownstreamTlsConfig,
  FilterChainConfig,
  ListenerConfig,
  ProxyConfigSnapshot,
  SecretConfig,
  SecretRef,
} from '../model/config.js';
import {
  setConnectionSecurity,
  type ConnectionSecurity,
  type Downstream,
} from '../connection-manager/downstream.js';
import type { RequestTarget, RouterDeps } from '../connection-manager/request-handler.js';
import type { Reporter } from '../connection-manager/stream-info.js';
import { inspectClientHello, MAX_CLIENT_HELLO } from './client-hello.js';
import { selectFilterChain } from './filter-chain-match.js';
import { HttpListener } from './http-listener.js';
import { routesTarget } from './targets.js';
import { compilePeerChecks } from '../identity/peer-checks.js';
import {
  leafOf,
  principalOf,
  subjectAltNames,
  subjectOf,
  uriSans,
  type SecretResolver,
} from '../identity/secret-resolver.js';
import { proxyTcpConnection, type TcpProxyDeps } from './tcp-proxy.js';
import { contextCiphers } from '../upstream/transport-ciphers.js';

export interface TlsListenerDeps {
  /** The snapshot being served: its route tables. */
  snapshot: () => ProxyConfigSnapshot;
  /** Secrets by reference: over ADS from the snapshot, the workload's own from its source. */
  secrets: SecretResolver;
  router: RouterDeps;
  /** For filter chains whose network filter is a TCP proxy. */
  tcp: TcpProxyDeps;
  reporter: Reporter;
  logger: Logger;
  /** Time allowed for the ClientHello and the handshake. */
  handshakeTimeoutMs?: number;
}

/**
 * Whether a listener needs this class: one of its chains terminates TLS, or its chains are told
 * apart by what the TLS inspector reads (a TCP proxy for TLS beside an HTTP chain for plain text).
 */
export function terminatesTls(l: ListenerConfig): boolean {
  return l.filterChains.some(
    (c) => c.tls !== undefined || c.transportProtocol !== undefined || c.applicationProtocols !== undefined,
  );
}

/**
 * A filter chain and the servers its connections go through. Slots are kept by position across
 * config updates, so a chain's open connections follow that position's new config (the chains
 * of one gateway port share one route configuration, so this only matters for hand-made ones).
 */
class ChainSlot {
  readonly http: HttpListener;
  /** The chain's TLS server (never listening: connections are handed to it), for one config. */
  tls?: ChainTls;

  constructor(
    public chain: FilterChainConfig,
    deps: TlsListenerDeps,
    name: string,
  ) {
    this.http = new HttpListener(
      (ds) => this.target(deps.snapshot(), ds),
      deps.reporter,
      deps.router,
      deps.logger.child(name),
    );
  }

  private target(snapshot: ProxyConfigSnapshot, ds: Downstream): RequestTarget {
    const filter = this.chain.filter;
    if (filter.kind !== 'http')
      return { kind: 'reply', reason: { kind: 'no-route', authority: ds.authority, path: ds.path } };
    return routesTarget(snapshot, filter);
  }
}

interface ChainTls {
  config: DownstreamTlsConfig;
  server: tls.Server;
  /** The same context without ALPN, for clients offering none of the chain's protocols. */
  noAlpn?: tls.Server;
  context: tls.SecureContextOptions;
  /** The secret objects its context was built from (snapshots are immutable: identity is enough). */
  secrets: readonly SecretConfig[];
  /** URI SANs of the certificate this side serves, for ConnectionSecurity.localPrincipal. */
  localUriSan: string | undefined;
}

type ServerResult = { ok: true; tls: ChainTls } | { ok: false; missing: string[] };

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsListener {
  private readonly server: net.Server;
  private config: ListenerConfig;
  private slots: ChainSlot[] = [];
  /** Connections whose ClientHello is still being read. */
  private readonly pending = new Set<net.Socket>();
  /** Connections handed to a TCP proxy chain. */
  private readonly tcpSockets = new Set<net.Socket>();
  /** Missing secret names last reported, so warming is logged once and its end once. */
  private warming = '';
  private draining = false;

  constructor(
    config: ListenerConfig,
    private readonly deps: TlsListenerDeps,
  ) {
    this.config = config;
    this.setConfig(config);
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  /** A new config (or only new secrets): chains swap in place, open connections stay. */
  setConfig(config: ListenerConfig): void {
    this.config = config;
    const chains = config.filterChains;
    chains.forEach((chain, i) => {
      const slot = this.slots[i];
      if (slot !== undefined) slot.chain = chain;
      else this.slots.push(new ChainSlot(chain, this.deps, chain.name || `chain${i}`));
    });
    for (const gone of this.slots.splice(chains.length)) gone.http.drain().catch(() => undefined);
    this.reportWarming();
  }

  async listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port);
  }

  /** Stops accepting; refuses handshakes in progress; lets open requests finish (`graceMs`). */
  async drain(graceMs = 30_000): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.pending) s.destroy();
    this.pending.clear();
    const deadline = Date.now() + graceMs;
    const tcp = (async () => {
      while (this.tcpSockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const s of this.tcpSockets) s.destroy();
    })();
    await Promise.all([...this.slots.map((s) => s.http.drain(graceMs)), tcp]);
    await closed;
  }

  // --- connections --------------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    // Before TLS wraps it: setNoDelay on the TLS socket does not reach the TCP socket.
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => this.pending.delete(socket));
    const timer = setTimeout(() => {
      this.deps.logger.debug('TLS handshake timed out', { remote: socket.remoteAddress });
      socket.destroy();
    }, this.deps.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
    socket.on('close', () => clearTimeout(timer));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const data = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      const hello = inspectClientHello(data.subarray(0, MAX_CLIENT_HELLO));
      if (hello.kind === 'need-more') return;
      socket.off('data', onData);
      socket.pause();
      // Put the bytes back: the TLS socket (or the HTTP parser) reads them first.
      socket.unshift(data);
      const facts =
        hello.kind === 'tls'
          ? {
              transportProtocol: 'tls' as const,
              serverName: hello.serverName,
              applicationProtocols: hello.alpn,
              destinationPort: socket.localPort,
            }
          : { transportProtocol: 'raw_buffer' as const, destinationPort: socket.localPort };
      const slot = selectFilterChain(
        this.slots.map((s) => ({ ...s.chain, slot: s })),
        facts,
      )?.slot;
      if (slot === undefined) {
        this.deps.logger.debug('no filter chain matches; closing', {
          remote: socket.remoteAddress,
          ...facts,
        });
        socket.destroy();
        return;
      }
      clearTimeout(timer);
      if (slot.chain.tls === undefined) this.handOver(slot, socket, undefined);
      else this.handshake(slot, slot.chain.tls, socket, hello.kind === 'tls' ? hello.alpn : []);
    };
    socket.on('data', onData);
  }

  private handshake(
    slot: ChainSlot,
    config: DownstreamTlsConfig,
    socket: net.Socket,
    offered: string[],
  ): void {
    let found: ServerResult;
    try {
      found = this.tlsServer(slot, config);
    } catch (err) {
      // Secrets are validated when received; what is left is OpenSSL refusing a combination.
      this.deps.logger.error('cannot build the TLS context; closing', {
        listener: this.config.name,
        error: (err as Error).message,
      });
      socket.destroy();
      return;
    }
    if (!found.ok && slot.tls !== undefined) {
      // As Envoy keeps the old listener until the new one warmed: the chain's previous TLS
      // context (its certificates already loaded) serves until the new secrets are all here.
      this.deps.logger.debug('new TLS config warming: serving with the previous one', {
        listener: this.config.name,
        missing: found.missing.join(','),
      });
      found = { ok: true, tls: slot.tls };
    }
    if (!found.ok) {
      this.reportWarming();
      this.deps.logger.debug('TLS handshake refused: listener warming', {
        listener: this.config.name,
        missing: found.missing.join(','),
        remote: socket.remoteAddress,
      });
      socket.destroy();
      return;
    }
    // node's TLS server wraps the socket (reading the ClientHello put back above), handshakes
    // with the chain's context (its handshakeTimeout bounds it) and emits `secureConnection`
    // or `tlsClientError`; a drain from here on lets the handshake finish, then closes.
    this.pending.delete(socket);
    const chainTls = found.tls;
    const agreed = config.alpn.length === 0 || config.alpn.some((p) => offered.includes(p));
    const server = agreed
      ? chainTls.server
      : (chainTls.noAlpn ??= this.createServer(
          slot,
          config,
          chainTls.context,
          false,
          () => chainTls.localUriSan,
        ));
    server.emit('connection', socket);
  }

  /**
   * The chain's TLS server with a context from the secrets in force: created for a new config,
   * its context replaced when a secret changed (a rotation: new connections get it; open ones
   * keep theirs), reused otherwise.
   */
  private tlsServer(slot: ChainSlot, config: DownstreamTlsConfig): ServerResult {
    // Per handshake: look the secrets up and compare them by identity (snapshots are
    // immutable). The context and this side's SANs are built only when they changed: parsing
    // our own leaf for every connection was a tenth of the CPU of a handshake.
    const certs = config.certificateSecrets.map((r) => this.deps.secrets.get(r));
    const ca =
      config.validationSecret === undefined ? undefined : this.deps.secrets.get(config.validationSecret);
    const missing = config.certificateSecrets.filter((_r, i) => !usable(certs[i], false)).map((r) => r.name);
    if (config.validationSecret !== undefined && !usable(ca, true))
      missing.push(config.validationSecret.name);
    if (missing.length > 0) return { ok: false, missing };
    const secrets = (ca ? [...certs, ca] : certs) as SecretConfig[];
    const current = slot.tls;
    if (current !== undefined && current.config === config && sameSecrets(current.secrets, secrets))
      return { ok: true, tls: current };
    const context: tls.SecureContextOptions = {
      cert: certs.map((c) => (c?.kind === 'tls_certificate' ? c.certificateChain : '')),
      key: certs.map((c) => (c?.kind === 'tls_certificate' ? c.privateKey : '')),
      ...(ca?.kind === 'validation_context' ? { ca: ca.trustedCa } : {}),
      ...(config.minVersion ? { minVersion: config.minVersion } : {}),
      ...(config.maxVersion ? { maxVersion: config.maxVersion } : {}),
      ciphers: contextCiphers(config.ciphers),
    };
    const first = certs[0];
    const leaf = first?.kind === 'tls_certificate' ? leafOf(first.certificateChain) : undefined;
    const localUriSan = leaf === undefined ? undefined : uriSans(leaf);
    if (current !== undefined && current.config === config) {
      // A rotation: new connections get the new context; open ones keep theirs.
      current.server.setSecureContext(context);
      current.noAlpn?.setSecureContext(context);
      current.context = context;
      current.secrets = secrets;
      current.localUriSan = localUriSan;
      return { ok: true, tls: current };
    }
    const server = this.createServer(slot, config, context, true, () => chainTls.localUriSan);
    const chainTls: ChainTls = { config, server, context, secrets, localUriSan };
    slot.tls = chainTls;
    return { ok: true, tls: chainTls };
  }

  private createServer(
    slot: ChainSlot,
    config: DownstreamTlsConfig,
    context: tls.SecureContextOptions,
    alpn: boolean,
    localUriSan: () => string | undefined,
  ): tls.Server {
    const server = tls.createServer({
      ...context,
      // A validation context asks for a client certificate; require_client_certificate refuses
      // handshakes without a valid one (MUTUAL).
      requestCert: config.validationSecret !== undefined,
      rejectUnauthorized: config.requireClientCertificate,
      handshakeTimeout: this.deps.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      ...(alpn && config.alpn.length > 0 ? { ALPNProtocols: [...config.alpn] } : {}),
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.deps.logger.debug('TLS handshake failed', {
        listener: this.config.name,
        remote: socket.remoteAddress,
        error: err.code ?? err.message,
      });
    });
    const check = compilePeerChecks(config);
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      // Whatever a peer's certificate holds, reading it must not take the process down.
      try {
        // Optional client certificates (a CA without require_client_certificate) must still
        // verify, and any client certificate must pass the SAN / SPKI / hash checks.
        const peer = requested(config) ? socket.getPeerX509Certificate() : undefined;
        const error =
          peer === undefined
            ? undefined
            : !socket.authorized
              ? String(socket.authorizationError)
              : check?.(peer);
        if (error !== undefined) {
          this.deps.logger.debug('client certificate rejected', { listener: this.config.name, error });
          socket.destroy();
          return;
        }
        this.handOver(slot, socket, securityOf(socket, peer, localUriSan()));
      } catch (err) {
        this.deps.logger.warn('closing a TLS connection that could not be read', {
          listener: this.config.name,
          error: (err as Error).message,
        });
        socket.destroy();
      }
    });
    return server;
  }

  /** The connection leaves the inspection phase: its chain's network filter serves it. */
  private handOver(slot: ChainSlot, socket: net.Socket, security: ConnectionSecurity | undefined): void {
    this.pending.delete(socket);
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (security !== undefined) setConnectionSecurity(socket, security);
    const filter = slot.chain.filter;
    if (filter.kind === 'tcp') {
      this.tcpSockets.add(socket);
      socket.once('close', () => this.tcpSockets.delete(socket));
      proxyTcpConnection(socket, filter, this.deps.tcp, { reporter: this.deps.reporter, security });
      socket.resume();
      return;
    }
    slot.http.accept(socket);
    socket.resume();
  }

  // --- secrets ------------------------------------------------------------------------------

  /** Logs when the listener starts or stops waiting for secrets (Envoy: listener warming). */
  private reportWarming(): void {
    const missing = new Set<string>();
    for (const { chain } of this.slots) {
      if (chain.tls === undefined) continue;
      const r = this.missingFor(chain.tls);
      for (const n of r) missing.add(n);
    }
    const now = [...missing].sort().join(',');
    if (now === this.warming) return;
    if (now !== '') {
      this.deps.logger.warn('listener warming: TLS handshakes refused until these secrets arrive over SDS', {
        listener: this.config.name,
        missing: now,
      });
    } else {
      this.deps.logger.info('listener active: TLS certificates received', { listener: this.config.name });
    }
    this.warming = now;
  }

  private missingFor(config: DownstreamTlsConfig): string[] {
    const get = (r: SecretRef) => this.deps.secrets.get(r);
    const out = config.certificateSecrets.filter((r) => !usable(get(r), false)).map((r) => r.name);
    if (config.validationSecret !== undefined && !usable(get(config.validationSecret), true))
      out.push(config.validationSecret.name);
    return out;
  }
}

/** What a verified handshake proved, in the terms RBAC, the access log and the metrics use. */
function securityOf(
  socket: tls.TLSSocket,
  peer: X509Certificate | undefined,
  localUriSan: string | undefined,
): ConnectionSecurity {
  const mutual = peer !== undefined && socket.authorized;
  const servername = (socket as tls.TLSSocket & { servername?: string | false }).servername;
  return {
    policy: mutual ? 'mutual_tls' : 'none',
    ...(mutual
      ? {
          peerPrincipal: principalOf(peer),
          peerUriSan: uriSans(peer),
          peerCertificateHash: createHash('sha256').update(peer.raw).digest('hex'),
          peerSubject: subjectOf(peer),
          peerDnsSans: subjectAltNames(peer.subjectAltName)
            .filter((n) => n.type === 'DNS')
            .map((n) => n.value),
        }
      : {}),
    ...(localUriSan !== undefined ? { localPrincipal: localUriSan.split(',')[0], localUriSan } : {}),
    ...(typeof servername === 'string' && servername !== '' ? { sni: servername } : {}),
    ...(socket.alpnProtocol ? { alpn: socket.alpnProtocol } : {}),
    tlsVersion: socket.getProtocol() ?? undefined,
    tlsCipher: socket.getCipher()?.standardName,
  };
}

function sameSecrets(a: readonly SecretConfig[], b: readonly SecretConfig[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function requested(config: DownstreamTlsConfig): boolean {
  return config.validationSecret !== undefined;
}

/** A secret of the kind its use needs: a certificate, or a CA for validation. */
function usable(secret: SecretConfig | undefined, validation: boolean): boolean {
  return secret?.kind === (validation ? 'validation_context' : 'tls_certificate');
}
