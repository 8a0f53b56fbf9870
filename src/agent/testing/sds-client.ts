/**
 * An SDS client that speaks as Envoy does (imported by tests only): a gRPC stream over the
 * agent's Unix socket, a first request with the node and resource names, ACKs echoing
 * version_info and nonce, NACKs carrying error_detail. Responses queue up; `next()` waits for
 * one with a bounded timeout and decodes its Secrets.
 */
import * as grpc from '@grpc/grpc-js';
import { secretDiscoveryService } from '../../protocol/grpc-services.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import type { Secret__Output } from '../../protocol/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js';

export interface SdsResponse {
  version_info?: string;
  system_version_info?: string;
  nonce?: string;
  type_url?: string;
  resources?: (
    | { type_url?: string; value?: Uint8Array }
    | { name?: string; version?: string; resource?: { type_url?: string; value?: Uint8Array } }
  )[];
  removed_resources?: string[];
}

export interface ReceivedSecrets {
  raw: SdsResponse;
  /** Secrets by name (SotW: from the Anys; delta: from each Resource). */
  secrets: Map<string, Secret__Output>;
}

type Method = 'StreamSecrets' | 'DeltaSecrets';

export class SdsTestClient {
  private readonly client: grpc.Client;
  constructor(socketPath: string) {
    const Ctor = grpc.makeGenericClientConstructor(secretDiscoveryService(), 'SecretDiscoveryService');
    this.client = new Ctor(`unix:${socketPath}`, grpc.credentials.createInsecure());
  }

  stream(method: Method = 'StreamSecrets'): SdsTestStream {
    const def = secretDiscoveryService()[method] as grpc.MethodDefinition<object, SdsResponse>;
    const call = this.client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    return new SdsTestStream(call);
  }

  fetch(names: string[]): Promise<ReceivedSecrets> {
    const def = secretDiscoveryService().FetchSecrets as grpc.MethodDefinition<object, SdsResponse>;
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        { resource_names: names, type_url: TYPE.secret },
        (err: grpc.ServiceError | null, res?: SdsResponse) =>
          err ? reject(err) : resolve(decode(res ?? {})),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}

function decode(raw: SdsResponse): ReceivedSecrets {
  const secrets = new Map<string, Secret__Output>();
  for (const r of raw.resources ?? []) {
    const any = 'resource' in r ? r.resource : 'value' in r || 'type_url' in r ? r : undefined;
    if (!any) continue;
    const s = unpackAny<Secret__Output>(any);
    secrets.set(s.name ?? '', s);
  }
  return { raw, secrets };
}

export class SdsTestStream {
  private readonly queue: SdsResponse[] = [];
  private waiter: (() => void) | undefined;
  error: Error | undefined;

  constructor(private readonly call: grpc.ClientDuplexStream<object, SdsResponse>) {
    call.on('data', (res: SdsResponse) => {
      this.queue.push(res);
      this.waiter?.();
    });
    call.on('error', (err: Error) => {
      this.error = err;
      this.waiter?.();
    });
  }

  /** Any request, as written (for malformed ones). */
  send(req: object): void {
    this.call.write(req);
  }

  /** Envoy's first request for `names` on this stream (SotW). */
  subscribe(names: string[], nodeId = 'sidecar~127.0.0.1~web.default~default.svc.cluster.local'): void {
    this.call.write({ node: { id: nodeId }, resource_names: names, type_url: TYPE.secret });
  }

  ack(res: SdsResponse, names: string[]): void {
    this.call.write({
      version_info: res.version_info ?? '',
      response_nonce: res.nonce ?? '',
      resource_names: names,
      type_url: TYPE.secret,
    });
  }

  nack(res: SdsResponse, names: string[], message: string, keptVersion = ''): void {
    this.call.write({
      version_info: keptVersion,
      response_nonce: res.nonce ?? '',
      resource_names: names,
      type_url: TYPE.secret,
      error_detail: { code: 3, message },
    });
  }

  /** Delta: a request with subscriptions, or an ACK/NACK of `ackOf`. */
  delta(req: {
    subscribe?: string[];
    unsubscribe?: string[];
    initialVersions?: Record<string, string>;
    ackOf?: SdsResponse;
    error?: string;
    nodeId?: string;
  }): void {
    this.call.write({
      ...(req.nodeId ? { node: { id: req.nodeId } } : {}),
      type_url: TYPE.secret,
      resource_names_subscribe: req.subscribe ?? [],
      resource_names_unsubscribe: req.unsubscribe ?? [],
      initial_resource_versions: req.initialVersions ?? {},
      response_nonce: req.ackOf?.nonce ?? '',
      ...(req.error ? { error_detail: { code: 3, message: req.error } } : {}),
    });
  }

  /** The next response, decoded; fails after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<ReceivedSecrets> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SDS response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return decode(this.queue.shift() as SdsResponse);
  }

  get pending(): number {
    return this.queue.length;
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}
