/**
 * An Envoy-like ADS client whose answers a test controls: it subscribes to CDS and LDS
 * (wildcard) and to EDS for every EDS cluster, and per type ACKs, NACKs (with a message) or holds
 * (answers nothing: a slow or stuck proxy), so convergence and the Router's gate can be shown to
 * wait for, and name, a proxy that does not take a change.
 */
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../../src/protocol/grpc-services.js';
import {
  SHORT_TYPE,
  TYPE,
  unpackAny,
  type AnyMessage,
  type ResourceTypeUrl,
} from '../../../src/protocol/protos.js';
import { jsonToStruct } from '../../../src/xds/node.js';

interface Response {
  version_info: string;
  nonce: string;
  type_url: string;
  resources?: AnyMessage[];
}

export type Answer = 'ack' | { nack: string } | 'hold';

export interface ControllableClient {
  /** How the client answers responses of a type (`CDS`, `EDS`, `LDS`); default ack. */
  answer(type: string, how: Answer): void;
  /** Responses held, answered now with ACKs (a held proxy catching up). */
  release(): void;
  /** Versions received, by short type. */
  received(type: string): string[];
  close(): void;
}

const Ads = grpc.makeGenericClientConstructor(adsService(), 'ADS');

export function connectControllable(
  xdsPort: number,
  node: { id: string; metadata?: Record<string, unknown> },
): ControllableClient {
  const client = new Ads(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  const stream = (
    client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<object, Response> }
  ).StreamAggregatedResources();
  const nodeMsg = { id: node.id, metadata: jsonToStruct(node.metadata ?? {}) };
  const names: Record<string, string[]> = { [TYPE.endpoint]: [] };
  const answers = new Map<string, Answer>();
  const held: Response[] = [];
  const received = new Map<string, string[]>();
  const write = (typeUrl: string, resourceNames: string[], version = '', nonce = '', error?: string) =>
    stream.write({
      node: nodeMsg,
      type_url: typeUrl,
      resource_names: resourceNames,
      version_info: version,
      response_nonce: nonce,
      ...(error ? { error_detail: { code: 3, message: error } } : {}),
    });
  const ack = (r: Response) => write(r.type_url, names[r.type_url] ?? [], r.version_info, r.nonce);

  stream.on('data', (r: Response) => {
    const type = SHORT_TYPE[r.type_url as ResourceTypeUrl];
    received.set(type, [...(received.get(type) ?? []), r.version_info]);
    const how = answers.get(type) ?? 'ack';
    if (how === 'hold') {
      held.push(r);
      return;
    }
    if (how !== 'ack') {
      write(r.type_url, names[r.type_url] ?? [], '', r.nonce, how.nack);
      return;
    }
    ack(r);
    if (r.type_url === TYPE.cluster) {
      const eds = (r.resources ?? [])
        .map((a) => unpackAny<{ name?: string; type?: string }>(a))
        .filter((c) => c.type === 'EDS')
        .map((c) => String(c.name))
        .sort();
      if (eds.join() !== names[TYPE.endpoint]!.join()) {
        names[TYPE.endpoint] = eds;
        write(TYPE.endpoint, eds);
      }
    }
  });
  stream.on('error', () => undefined);
  write(TYPE.cluster, []);
  write(TYPE.listener, []);
  return {
    answer: (type, how) => answers.set(type, how),
    release: () => {
      for (const r of held.splice(0)) ack(r);
    },
    received: (type) => received.get(type) ?? [],
    close: () => (stream.end(), client.close()),
  };
}
