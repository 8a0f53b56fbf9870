/**
 * The proxy simulator for bench/xds.ts, run as its own process so its CPU does not count as the
 * control plane's. Each simulated sidecar opens a real SotW ADS stream and subscribes the way
 * Envoy does: CDS wildcard, then EDS for the EDS clusters it received, LDS wildcard, then RDS for
 * the route names in the HTTP connection managers; it ACKs every response with its version and
 * nonce. ACK times go to the parent over IPC in batches (timestamps are taken at the ACK, so
 * batching does not move them).
 *
 * Decoding: every response is deserialized by grpc-js (the DiscoveryResponse with its Any
 * payloads); the resources themselves are decoded with src/protocol to find EDS clusters and
 * route names. Responses whose content was already decoded by another simulated proxy reuse
 * that result (keyed by a SHA-1 of the payload bytes) unless --decode-all is given: decoding
 * 8000 clusters for each of 5000 proxies would measure this simulator, not the control plane.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../src/protocol/grpc-services.js';
import { SHORT_TYPE, TYPE, decodeMessage, type ResourceTypeUrl } from '../src/protocol/protos.js';
import { jsonToStruct } from '../src/xds/node.js';
import { proxyIdentity, type MeshShape } from './xds-mesh.js';
import type { AckEvent, ChildMessage, ParentMessage } from './xds-ipc.js';

interface AnyMsg {
  type_url: string;
  value: Buffer;
}
interface Response {
  version_info?: string;
  resources?: AnyMsg[];
  type_url?: string;
  nonce?: string;
}
type Stream = grpc.ClientDuplexStream<object, object>;
type AdsClient = grpc.Client & { StreamAggregatedResources(): Stream };

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    proxies: { type: 'string' },
    services: { type: 'string' },
    namespaces: { type: 'string' },
    'per-channel': { type: 'string' },
    'decode-all': { type: 'boolean', default: false },
    'max-rss-mb': { type: 'string', default: '8000' },
  },
});
const port = Number(values.port);
const proxies = Number(values.proxies);
const perChannel = Math.max(1, Number(values['per-channel'] ?? 25));
const decodeAll = values['decode-all'] === true;
const shape: MeshShape = {
  services: Number(values.services),
  namespaces: Number(values.namespaces),
  scoped: false,
};

function send(message: ChildMessage): void {
  process.send?.(message);
}

let pending: AckEvent[] = [];
const flushTimer = setInterval(flushAcks, 20);
// The machine is shared: past the limit the simulator stops and says so instead of swapping.
const maxRss = Number(values['max-rss-mb']) * 1024 * 1024;
const rssGuard = setInterval(() => {
  if (process.memoryUsage().rss <= maxRss) return;
  send({ t: 'error', proxy: -1, message: `simulator RSS passed ${values['max-rss-mb']} MB; stopping` });
  process.exit(1);
}, 500);
rssGuard.unref();
function flushAcks(): void {
  if (pending.length === 0) return;
  send({ t: 'acks', acks: pending });
  pending = [];
}

const now = (): number => performance.timeOrigin + performance.now();

// --- decoding --------------------------------------------------------------------------------

const decodeMemo = new Map<string, string[]>();

function payloadDigest(resources: readonly AnyMsg[]): string {
  const h = createHash('sha1');
  for (const r of resources) h.update(r.value);
  return h.digest('base64');
}

/** Names the response makes the proxy subscribe to next: EDS clusters (CDS) or routes (LDS). */
function followUpNames(typeUrl: string, resources: readonly AnyMsg[]): string[] {
  if (typeUrl !== TYPE.cluster && typeUrl !== TYPE.listener) return [];
  let key = '';
  if (!decodeAll) {
    key = `${typeUrl}|${payloadDigest(resources)}`;
    const hit = decodeMemo.get(key);
    if (hit) return hit;
  }
  const names = new Set<string>();
  for (const r of resources) {
    if (typeUrl === TYPE.cluster) {
      const c = decodeMessage<{
        name?: string;
        type?: string;
        eds_cluster_config?: { service_name?: string };
      }>(TYPE.cluster, r.value);
      if (c.type === 'EDS') names.add(c.eds_cluster_config?.service_name || (c.name ?? ''));
    } else {
      for (const n of routeNames(r.value)) names.add(n);
    }
  }
  const out = [...names].filter(Boolean).sort();
  if (!decodeAll) decodeMemo.set(key, out);
  return out;
}

interface FilterMsg {
  typed_config?: AnyMsg;
}
interface ListenerMsg {
  filter_chains?: { filters?: FilterMsg[] }[];
  default_filter_chain?: { filters?: FilterMsg[] };
  api_listener?: { api_listener?: AnyMsg };
}

function routeNames(listenerBytes: Buffer): string[] {
  const l = decodeMessage<ListenerMsg>(TYPE.listener, listenerBytes);
  const anys: AnyMsg[] = [];
  for (const chain of [
    ...(l.filter_chains ?? []),
    ...(l.default_filter_chain ? [l.default_filter_chain] : []),
  ]) {
    for (const f of chain.filters ?? []) if (f.typed_config) anys.push(f.typed_config);
  }
  if (l.api_listener?.api_listener) anys.push(l.api_listener.api_listener);
  const out: string[] = [];
  for (const a of anys) {
    if (a.type_url !== TYPE.hcm) continue;
    const hcm = decodeMessage<{ rds?: { route_config_name?: string } }>(TYPE.hcm, a.value);
    if (hcm.rds?.route_config_name) out.push(hcm.rds.route_config_name);
  }
  return out;
}

// --- one simulated sidecar -------------------------------------------------------------------

class SimulatedProxy {
  private readonly subscribed = new Map<string, string[]>();
  private stream: Stream | undefined;

  constructor(
    private readonly index: number,
    private readonly client: AdsClient,
  ) {}

  start(): void {
    const who = proxyIdentity(this.index, shape);
    const node = {
      id: who.id,
      cluster: `${who.app}.${who.namespace}`,
      locality: {},
      metadata: jsonToStruct({
        NAMESPACE: who.namespace,
        LABELS: { app: who.app, version: who.version },
        WORKLOAD_NAME: `${who.app}-${who.version}`,
        INSTANCE_IPS: who.ip,
      }),
    };
    const stream = this.client.StreamAggregatedResources();
    this.stream = stream;
    stream.on('data', (res: Response) => this.onResponse(res));
    stream.on('error', (err: grpc.ServiceError) => {
      if (!stopping) send({ t: 'error', proxy: this.index, message: err.message });
    });
    // Only the first request carries the node, as Envoy does.
    stream.write({ node, type_url: TYPE.cluster, resource_names: [] });
    this.subscribed.set(TYPE.cluster, []);
  }

  private request(typeUrl: string, names: string[], version = '', nonce = ''): void {
    this.subscribed.set(typeUrl, names);
    this.stream?.write({
      type_url: typeUrl,
      resource_names: names,
      version_info: version,
      response_nonce: nonce,
    });
  }

  private onResponse(res: Response): void {
    const typeUrl = res.type_url ?? '';
    const resources = res.resources ?? [];
    let bytes = 0;
    for (const r of resources) bytes += r.value.length;
    const follow = followUpNames(typeUrl, resources);
    const version = res.version_info ?? '';
    const nonce = res.nonce ?? '';
    // ACK with the names already subscribed, as Envoy does.
    this.request(typeUrl, this.subscribed.get(typeUrl) ?? [], version, nonce);
    pending.push({
      proxy: this.index,
      type: SHORT_TYPE[typeUrl as ResourceTypeUrl] ?? typeUrl,
      version,
      at: now(),
      bytes,
      resources: resources.length,
    });
    if (typeUrl === TYPE.cluster) {
      if (!sameNames(this.subscribed.get(TYPE.endpoint), follow)) this.request(TYPE.endpoint, follow);
      if (!this.subscribed.has(TYPE.listener)) this.request(TYPE.listener, []);
    } else if (typeUrl === TYPE.listener) {
      if (!sameNames(this.subscribed.get(TYPE.route), follow)) this.request(TYPE.route, follow);
    }
  }

  stop(): void {
    this.stream?.cancel();
  }
}

function sameNames(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

// --- main ------------------------------------------------------------------------------------

let stopping = false;
const AdsClientCtor = grpc.makeClientConstructor(adsService(), 'AggregatedDiscoveryService');
const clients: AdsClient[] = [];
const sims: SimulatedProxy[] = [];
const channelCount = Math.ceil(proxies / perChannel);
for (let c = 0; c < channelCount; c++) {
  // A local subchannel pool per client: each is its own TCP connection (HTTP/2 session).
  clients.push(
    new AdsClientCtor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
    }) as unknown as AdsClient,
  );
}
for (let j = 0; j < proxies; j++) {
  const sim = new SimulatedProxy(j, clients[Math.floor(j / perChannel)]!);
  sims.push(sim);
}

process.on('message', (msg: ParentMessage) => {
  if (msg.t === 'cpu') {
    flushAcks();
    const u = process.cpuUsage();
    send({ t: 'cpu', user: u.user, system: u.system, rss: process.memoryUsage().rss });
  } else if (msg.t === 'stop') {
    stopping = true;
    flushAcks();
    clearInterval(flushTimer);
    for (const s of sims) s.stop();
    for (const c of clients) c.close();
    const u = process.cpuUsage();
    send({ t: 'cpu', user: u.user, system: u.system, rss: process.memoryUsage().rss });
    process.disconnect();
  }
});

// Start in slices so connection setup does not starve the event loop.
const started = now();
send({ t: 'connecting', at: started });
let next = 0;
function startSome(): void {
  const end = Math.min(proxies, next + 200);
  for (; next < end; next++) sims[next]!.start();
  if (next < proxies) setImmediate(startSome);
  else send({ t: 'started', channels: channelCount, ms: now() - started });
}
startSome();
