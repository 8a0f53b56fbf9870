/**
 * A small ADS server for tests: serves resources given as plain snake_case objects (packed with
 * packAny), pushes on every `set`, and records every request so tests can assert ACKs and
 * NACKs. State of the world only; EDS and RDS responses carry the subscribed names.
 */
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../protocol/grpc-services.js';
import { packAny, type AnyMessage } from '../../protocol/protos.js';
import type { XdsShortType } from '../model/config.js';
import { TYPE_BY_SHORT, shortTypeOf } from '../xds-client/resource-cache.js';

export interface RecordedRequest {
  type: XdsShortType;
  version_info: string;
  response_nonce: string;
  resource_names: string[];
  error_detail?: { code?: number; message?: string };
  node?: { id?: string; metadata?: unknown };
}

interface Stream {
  call: grpc.ServerDuplexStream<RecordedRequest & { type_url: string }, object>;
  subscribed: Map<XdsShortType, string[]>;
}

interface TypeState {
  version: number;
  resources: Map<string, object>;
}

export class FakeAds {
  readonly requests: RecordedRequest[] = [];
  private readonly server = new grpc.Server();
  private readonly streams = new Set<Stream>();
  private readonly state = new Map<XdsShortType, TypeState>();
  private nonce = 0;
  private listeners: (() => void)[] = [];
  address = '';

  static async start(port = 0): Promise<FakeAds> {
    const ads = new FakeAds();
    await ads.listen(port);
    return ads;
  }

  private async listen(port: number): Promise<void> {
    this.server.addService(adsService(), {
      StreamAggregatedResources: (call: Stream['call']) => this.onStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<object, object>) => {
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'delta xDS not served by the fake' });
      },
    });
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.address = `127.0.0.1:${bound}`;
  }

  /** Replaces every resource of a type (name taken from `name` or `cluster_name`) and pushes. */
  set(type: XdsShortType, resources: object[]): void {
    const st = this.state.get(type) ?? { version: 0, resources: new Map() };
    st.version++;
    st.resources = new Map(resources.map((r) => [nameOf(r), r]));
    this.state.set(type, st);
    for (const s of this.streams) if (s.subscribed.has(type)) this.push(s, type);
  }

  private onStream(call: Stream['call']): void {
    const stream: Stream = { call, subscribed: new Map() };
    this.streams.add(stream);
    call.on('data', (req: RecordedRequest & { type_url: string }) => {
      const type = shortTypeOf(req.type_url);
      if (!type) return;
      const recorded: RecordedRequest = {
        type,
        version_info: req.version_info ?? '',
        response_nonce: req.response_nonce ?? '',
        resource_names: req.resource_names ?? [],
      };
      if (req.error_detail) recorded.error_detail = req.error_detail;
      if (req.node) recorded.node = req.node;
      this.requests.push(recorded);
      const prev = stream.subscribed.get(type);
      const names = [...(req.resource_names ?? [])].sort();
      stream.subscribed.set(type, names);
      if (prev === undefined || prev.join(',') !== names.join(',')) this.push(stream, type);
      this.notify();
    });
    const gone = () => this.streams.delete(stream);
    call.on('end', () => {
      gone();
      call.end();
    });
    call.on('error', gone);
    call.on('cancelled', gone);
  }

  private push(stream: Stream, type: XdsShortType): void {
    const st = this.state.get(type);
    if (!st) return;
    const names = stream.subscribed.get(type) ?? [];
    const wildcard = type === 'CDS' || type === 'LDS';
    const resources: AnyMessage[] = [];
    for (const [name, r] of st.resources) {
      if (wildcard || names.includes(name)) resources.push(packAny(TYPE_BY_SHORT[type], r));
    }
    stream.call.write({
      version_info: String(st.version),
      resources,
      type_url: TYPE_BY_SHORT[type],
      nonce: String(++this.nonce),
    });
  }

  acks(type: XdsShortType): RecordedRequest[] {
    return this.requests.filter((r) => r.type === type && r.response_nonce !== '' && !r.error_detail);
  }

  nacks(type?: XdsShortType): RecordedRequest[] {
    return this.requests.filter((r) => (type === undefined || r.type === type) && r.error_detail);
  }

  /** Resolves when `predicate` holds, checking after every request received. */
  async waitFor(predicate: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`fake ADS: timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      this.listeners.push(check);
    });
  }

  /** Waits until the proxy ACKed the current version of a type. */
  async waitForAck(type: XdsShortType): Promise<void> {
    const version = String(this.state.get(type)?.version ?? 0);
    await this.waitFor(
      () => this.acks(type).some((r) => r.version_info === version),
      `${type} ACK of version ${version}`,
    );
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.call.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }
}

function nameOf(r: object): string {
  const o = r as { name?: string; cluster_name?: string };
  return o.name ?? o.cluster_name ?? '';
}
