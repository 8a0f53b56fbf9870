/**
 * The agent's SDS server for Envoy: envoy.service.secret.v3.SecretDiscoveryService on a Unix
 * domain socket, as Istio's pilot-agent serves it at ./var/run/secrets/workload-spiffe-uds/socket
 * (Envoy reaches it through the bootstrap's `sds-grpc` cluster).
 *
 * - StreamSecrets (state of the world, what Envoy uses): each stream names the secrets it wants;
 *   a response carries all of them with a version that changes exactly when their contents do.
 *   A request echoing the last nonce is an ACK, or a NACK when it carries error_detail (logged
 *   with the detail; nothing is resent, the stream stays up). Stale nonces are ignored.
 * - DeltaSecrets: the same secrets, per resource; names it cannot serve come back in
 *   removed_resources so Envoy does not wait for them.
 * - FetchSecrets: one answer, for tools.
 * A renewed certificate is pushed to every stream that asked for `default` or `ROOTCA` (ROOTCA
 * only when the trust bundle changed); `file-cert:`/`file-root:` files are re-read every
 * `filePollMs`. Unknown names are logged once per stream and left out; other names keep working.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { TrellisError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { secretDiscoveryService } from '../protocol/grpc-services.js';
import { TYPE, packAny } from '../protocol/protos.js';
import type { DeltaDiscoveryRequest__Output } from '../protocol/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.js';
import type { DeltaDiscoveryResponse } from '../protocol/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse.js';
import type { DiscoveryRequest__Output } from '../protocol/generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { DiscoveryResponse } from '../protocol/generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { AgentCertificateSource } from './certificate-source.js';
import { resolveSecrets, type Resolution } from './secret-resolver.js';
import { contentVersion, parseSecretName } from './sds-secrets.js';

export interface SdsServerOptions {
  /** Absolute path of the socket; its directory is created (mode 0700) when missing. */
  socketPath: string;
  certificates: AgentCertificateSource;
  clock: Clock;
  logger: Logger;
  /** How often file-cert:/file-root: files are re-read for changes. Default 5000 ms. */
  filePollMs?: number;
}

interface Stream {
  /** Sends what changed for this stream's subscription. */
  push(): void;
  readonly usesFiles: boolean;
}

/** Runs pushes of one stream one at a time, coalescing those asked for meanwhile. */
function serialized(run: () => Promise<void>, logger: Logger): () => void {
  let running = false;
  let again = false;
  const loop = async () => {
    running = true;
    do {
      again = false;
      try {
        await run();
      } catch (err) {
        logger.error('SDS push failed', { error: errorMessage(err) });
      }
    } while (again);
    running = false;
  };
  return () => {
    if (running) again = true;
    else void loop();
  };
}

function nodeId(node: { id?: string } | undefined, fallback: string): string {
  return node?.id || fallback;
}

export class SdsServer {
  private readonly streams = new Set<Stream>();
  private unsubscribe: () => void = () => undefined;
  private poll: TimerHandle | undefined;
  private nonces = 0;

  private constructor(
    private readonly opts: SdsServerOptions,
    private readonly server: grpc.Server,
  ) {}

  /** Binds the socket and serves. A stale socket file from an earlier run is replaced. */
  static async start(opts: SdsServerOptions): Promise<SdsServer> {
    await prepareSocketPath(opts.socketPath);
    const server = new grpc.Server();
    const sds = new SdsServer(opts, server);
    server.addService(secretDiscoveryService(), {
      StreamSecrets: (call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>) =>
        sds.sotw(call),
      DeltaSecrets: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse>) =>
        sds.delta(call),
      FetchSecrets: (
        call: grpc.ServerUnaryCall<DiscoveryRequest__Output, DiscoveryResponse>,
        callback: grpc.sendUnaryData<DiscoveryResponse>,
      ) => {
        sds.fetch(call.request).then(
          (res) => callback(null, res),
          (err: unknown) => callback({ code: grpc.status.INTERNAL, details: errorMessage(err) }),
        );
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${opts.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err
          ? reject(
              new TrellisError(
                'TRELLIS_IO',
                `--sds-socket ${opts.socketPath}: cannot listen there (${err.message}); choose another path or remove what is there`,
                { cause: err },
              ),
            )
          : resolve(),
      ),
    );
    // The socket hands out the workload's private key: only this user may connect.
    await fs.chmod(opts.socketPath, 0o600);
    sds.unsubscribe = opts.certificates.onChange(() => sds.pushAll(() => true));
    sds.schedulePoll();
    return sds;
  }

  /** Connected SDS streams (StreamSecrets and DeltaSecrets). */
  get streamCount(): number {
    return this.streams.size;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.poll?.cancel();
    this.poll = undefined;
    this.server.forceShutdown();
    await fs.unlink(this.opts.socketPath).catch(() => undefined);
  }

  private pushAll(which: (s: Stream) => boolean): void {
    for (const s of this.streams) if (which(s)) s.push();
  }

  private schedulePoll(): void {
    this.poll = this.opts.clock.setTimeout(() => {
      this.pushAll((s) => s.usesFiles);
      this.schedulePoll();
    }, this.opts.filePollMs ?? 5000);
  }

  private nextNonce(): string {
    return String(++this.nonces);
  }

  private resolve(names: Iterable<string>): Promise<Resolution> {
    return resolveSecrets(names, this.opts.certificates.current());
  }

  private track(stream: Stream, call: grpc.ServerDuplexStream<unknown, unknown>): void {
    this.streams.add(stream);
    const done = () => this.streams.delete(stream);
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
  }

  private sotw(call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>): void {
    const log = this.opts.logger;
    let names: string[] = [];
    let node = '';
    let lastNonce = '';
    let sentVersion: string | undefined;
    let forced = false;
    const warned = new Set<string>();
    const push = serialized(async () => {
      const want = names;
      const r = await this.resolve(want);
      warnUnknown(log, node, r, warned);
      if (r.secrets.size === 0) return;
      const sent = want.filter((n) => r.secrets.has(n));
      const version = contentVersion(sent.map((n) => `${n}=${r.secrets.get(n)?.version ?? ''}`));
      if (!forced && version === sentVersion) return;
      forced = false;
      sentVersion = version;
      lastNonce = this.nextNonce();
      call.write({
        version_info: version,
        type_url: TYPE.secret,
        nonce: lastNonce,
        resources: sent.map((n) => packAny(TYPE.secret, r.secrets.get(n)?.secret ?? {})),
      });
      log.info('SDS: pushed secrets', { proxy: node, names: sent.join(','), version });
    }, log);
    const stream: Stream = {
      push,
      get usesFiles() {
        return names.some((n) => n.startsWith('file-'));
      },
    };
    this.track(stream, call);
    call.on('data', (req: DiscoveryRequest__Output) => {
      node ||= nodeId(req.node, call.getPeer());
      if (refuseType(call, req.type_url, log, node)) return;
      const nonce = req.response_nonce ?? '';
      if (nonce !== '' && nonce !== lastNonce) return; // stale: answered by a later response
      if (nonce !== '' && req.error_detail) {
        log.warn('SDS: Envoy rejected (NACKed) secrets; it keeps the ones it had', {
          proxy: node,
          names: (req.resource_names ?? []).join(','),
          version: sentVersion ?? '',
          error: req.error_detail.message ?? '',
        });
        return;
      }
      const requested = [...new Set(req.resource_names ?? [])];
      const changed = requested.length !== names.length || requested.some((n, i) => n !== names[i]);
      if (nonce !== '' && !changed) return; // ACK
      // A new subscription, or the first request of a stream (a reconnecting Envoy gets an answer
      // even when it already has these versions: its warming waits for one).
      names = requested;
      forced = true;
      push();
    });
  }

  private delta(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse>): void {
    const log = this.opts.logger;
    const subscribed = new Set<string>();
    const sent = new Map<string, string>();
    const removed = new Set<string>();
    let node = '';
    let lastNonce = '';
    const warned = new Set<string>();
    const push = serialized(async () => {
      const r = await this.resolve(subscribed);
      warnUnknown(log, node, r, warned);
      const resources: NonNullable<DeltaDiscoveryResponse['resources']> = [];
      for (const [name, s] of r.secrets) {
        if (sent.get(name) === s.version) continue;
        sent.set(name, s.version);
        resources.push({ name, version: s.version, resource: packAny(TYPE.secret, s.secret) });
      }
      const gone = [...r.unknown.keys()].filter((n) => !removed.has(n));
      for (const n of gone) removed.add(n);
      if (resources.length === 0 && gone.length === 0) return;
      lastNonce = this.nextNonce();
      call.write({
        system_version_info: contentVersion([...sent].map(([n, v]) => `${n}=${v}`)),
        type_url: TYPE.secret,
        nonce: lastNonce,
        resources,
        removed_resources: gone,
      });
      log.info('SDS: pushed secrets (delta)', {
        proxy: node,
        names: resources.map((x) => x.name).join(','),
        ...(gone.length ? { removed: gone.join(',') } : {}),
      });
    }, log);
    const stream: Stream = {
      push,
      get usesFiles() {
        return [...subscribed].some((n) => n.startsWith('file-'));
      },
    };
    this.track(stream, call);
    call.on('data', (req: DeltaDiscoveryRequest__Output) => {
      node ||= nodeId(req.node, call.getPeer());
      if (refuseType(call, req.type_url, log, node)) return;
      const nonce = req.response_nonce ?? '';
      if (nonce !== '' && nonce === lastNonce && req.error_detail) {
        log.warn('SDS: Envoy rejected (NACKed) secrets; it keeps the ones it had', {
          proxy: node,
          error: req.error_detail.message ?? '',
        });
      }
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {}))
        sent.set(name, version);
      for (const name of req.resource_names_subscribe ?? []) {
        subscribed.add(name);
        removed.delete(name);
      }
      for (const name of req.resource_names_unsubscribe ?? []) {
        subscribed.delete(name);
        sent.delete(name);
      }
      push();
    });
  }

  private async fetch(req: DiscoveryRequest__Output): Promise<DiscoveryResponse> {
    const names = [...new Set(req.resource_names ?? [])];
    const r = await this.resolve(names);
    warnUnknown(this.opts.logger, nodeId(req.node, 'FetchSecrets'), r, new Set());
    const found = names.filter((n) => r.secrets.has(n));
    return {
      version_info: contentVersion(found.map((n) => `${n}=${r.secrets.get(n)?.version ?? ''}`)),
      type_url: TYPE.secret,
      nonce: this.nextNonce(),
      resources: found.map((n) => packAny(TYPE.secret, r.secrets.get(n)?.secret ?? {})),
    };
  }
}

/** A request for another resource type ends the stream with INVALID_ARGUMENT saying what is served. */
function refuseType(
  call: grpc.ServerDuplexStream<unknown, unknown>,
  typeUrl: string | undefined,
  log: Logger,
  node: string,
): boolean {
  if (typeUrl === undefined || typeUrl === '' || typeUrl === TYPE.secret) return false;
  const details = `this SDS server serves only ${TYPE.secret}, not ${typeUrl}`;
  log.warn('SDS: refusing a request for another resource type', { proxy: node, type: typeUrl });
  call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
  return true;
}

function warnUnknown(log: Logger, node: string, r: Resolution, warned: Set<string>): void {
  for (const [name, reason] of [...r.unknown, ...r.pending]) {
    const key = `${name}\0${reason}`;
    if (warned.has(key)) continue;
    warned.add(key);
    if (r.unknown.has(name)) log.warn('SDS: refusing an unknown secret name', { proxy: node, name, reason });
    else if (parseSecretName(name).kind.startsWith('file-'))
      log.warn('SDS: secret not available yet', { proxy: node, name, reason });
  }
}

/** Makes the socket's directory and clears a stale socket; refuses to replace anything else. */
async function prepareSocketPath(socketPath: string): Promise<void> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  let st;
  try {
    st = await fs.lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--sds-socket ${socketPath}: a file that is not a socket is already there; choose another path`,
    );
  await fs.unlink(socketPath);
}
