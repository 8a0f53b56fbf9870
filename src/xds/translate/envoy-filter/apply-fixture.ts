/**
 * The generated config EnvoyFilter operation tests patch (imported by *.test.ts only): two
 * services (a with an instance at the sidecar's address, b with HTTP and TCP ports), a
 * VirtualService with named routes, and an ingress gateway.
 */
import type { Resource } from '../../../api/resource.js';
import type { EnvoyConfigObjectPatch } from '../../../api/networking/envoy-filter.js';
import { unpackAny, type ResourceTypeUrl } from '../../../protocol/protos.js';
import type { ProxyNode } from '../../proxy-node.js';
import { buildPushContext, generate, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  http,
  proxy,
  registry,
  res,
  service,
  tcp,
  type Loose,
} from '../testkit.js';
import { envoyFilter } from './testing.js';

export const A = 'a.default.svc.cluster.local';
export const B = 'b.default.svc.cluster.local';
export const HCM = 'envoy.filters.network.http_connection_manager';
export const ROUTER = 'envoy.filters.http.router';
export const LOCAL_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const BASE: Resource[] = [
  res('VirtualService', 'default', 'b', {
    hosts: ['b'],
    http: [
      { name: 'r1', match: [{ uri: { prefix: '/x' } }], route: [{ destination: { host: 'b' } }] },
      { name: 'r2', redirect: { uri: '/y' } },
    ],
  }),
  res('Gateway', 'default', 'gw', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  }),
  res('VirtualService', 'default', 'gw-b', {
    hosts: ['*'],
    gateways: ['gw'],
    http: [{ name: 'to-b', route: [{ destination: { host: 'b' } }] }],
  }),
];
export const SERVICES = [
  service(A, [http(80)]),
  service(B, [http(80), tcp(5432)], { addresses: ['10.1.0.2'] }),
];
export const GATEWAY = proxy({ type: 'router', labels: { istio: 'ingressgateway' } });

export function pushWith(resources: readonly Resource[], revision = 1, previous?: PushContext) {
  return buildPushContext(
    config([...BASE, ...resources], revision),
    registry(SERVICES, [endpoint(A, '10.0.0.1')], 1),
    {},
    previous,
  );
}

/** One EnvoyFilter in `default` (no selector: every proxy of the namespace) with these patches. */
export function gen<U extends ResourceTypeUrl>(
  patches: EnvoyConfigObjectPatch[],
  typeUrl: U,
  p: ProxyNode = proxy(),
): Map<string, Loose> {
  const out = generate(pushWith([envoyFilter('default', 'ef', { configPatches: patches })]), p, typeUrl);
  checkEncodes(typeUrl, out);
  return new Map(out) as Map<string, Loose>;
}

export const typed = (any: Loose): Loose => unpackAny(any as { type_url?: string; value?: Uint8Array });
