/**
 * A recording relay for delta ADS: proxies DeltaAggregatedResources streams to a control plane
 * and keeps every request and response that crosses it, decoded, so tests can assert what went
 * over the wire (subscribe / unsubscribe lists, initial_resource_versions, which resources a
 * push carried). The upstream target can change while it runs: a restarted control plane on a
 * new port is reached by the next stream. StreamAggregatedResources is not relayed (grpc-js
 * answers UNIMPLEMENTED), which is enough for delta-only tests.
 */
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../../src/protocol/grpc-services.js';
import { SHORT_TYPE, type ResourceTypeUrl } from '../../../src/protocol/protos.js';

export interface TappedRequest {
  stream: number;
  type: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: { code?: number; message?: string };
}

export interface TappedResponse {
  stream: number;
  type: string;
  nonce: string;
  /** Names of the resources carried, in order. */
  names: string[];
  removed: string[];
}

interface DeltaRequestMsg {
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

interface DeltaResponseMsg {
  type_url?: string;
  nonce?: string;
  resources?: { name?: string }[];
  removed_resources?: string[];
}

const short = (typeUrl: string | undefined) => SHORT_TYPE[typeUrl as ResourceTypeUrl] ?? typeUrl ?? '';

export class DeltaTap {
  readonly requests: TappedRequest[] = [];
  readonly responses: TappedResponse[] = [];
  /** Streams opened by clients so far. */
  streams = 0;
  address = '';
  private readonly server = new grpc.Server();
  private readonly upstreams = new Set<grpc.ClientDuplexStream<object, object>>();

  private constructor(public target: string) {}

  static async start(target: string): Promise<DeltaTap> {
    const tap = new DeltaTap(target);
    const method = adsService().DeltaAggregatedResources!;
    tap.server.addService(adsService(), {
      DeltaAggregatedResources: (down: grpc.ServerDuplexStream<DeltaRequestMsg, object>) =>
        tap.relay(down, method),
    });
    const port = await new Promise<number>((resolve, reject) =>
      tap.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    tap.address = `127.0.0.1:${port}`;
    return tap;
  }

  private relay(
    down: grpc.ServerDuplexStream<DeltaRequestMsg, object>,
    method: grpc.MethodDefinition<object, object>,
  ): void {
    const stream = ++this.streams;
    const client = new grpc.Client(this.target, grpc.credentials.createInsecure());
    const up = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
    this.upstreams.add(up);
    let done = false;
    const finish = (err?: grpc.ServiceError) => {
      if (done) return;
      done = true;
      this.upstreams.delete(up);
      if (err) down.emit('error', { code: err.code, details: err.details });
      else down.end();
      client.close();
    };
    down.on('data', (req: DeltaRequestMsg) => {
      this.requests.push({
        stream,
        type: short(req.type_url),
        resource_names_subscribe: req.resource_names_subscribe ?? [],
        resource_names_unsubscribe: req.resource_names_unsubscribe ?? [],
        initial_resource_versions: { ...req.initial_resource_versions },
        response_nonce: req.response_nonce ?? '',
        ...(req.error_detail ? { error_detail: req.error_detail } : {}),
      });
      up.write(req);
    });
    up.on('data', (res: DeltaResponseMsg) => {
      this.responses.push({
        stream,
        type: short(res.type_url),
        nonce: res.nonce ?? '',
        names: (res.resources ?? []).map((r) => r.name ?? ''),
        removed: res.removed_resources ?? [],
      });
      down.write(res);
    });
    up.on('error', (err: grpc.ServiceError) => finish(err));
    up.on('end', () => finish());
    const cancel = () => {
      if (done) return;
      done = true;
      this.upstreams.delete(up);
      up.cancel();
      client.close();
    };
    down.on('end', cancel);
    down.on('cancelled', cancel);
    down.on('error', cancel);
  }

  requestsOn(stream: number, type?: string): TappedRequest[] {
    return this.requests.filter((r) => r.stream === stream && (type === undefined || r.type === type));
  }

  responsesOn(stream: number, type?: string): TappedResponse[] {
    return this.responses.filter((r) => r.stream === stream && (type === undefined || r.type === type));
  }

  async close(): Promise<void> {
    for (const up of this.upstreams) up.cancel();
    this.server.forceShutdown();
    await Promise.resolve();
  }
}
