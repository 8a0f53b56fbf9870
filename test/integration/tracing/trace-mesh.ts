/**
 * Proxies with tracing for the tracing tests: the HCM `tracing` field as Istio writes it for an
 * `opentelemetry` extension provider, the collector's cluster named as Istio names it, and a
 * sidecar pair (outbound -> inbound) in front of an echo app.
 */
import { TYPE, packAny } from '../../../src/protocol/protos.js';
import { FakeAds } from '../../../src/proxy/testing/fake-ads.js';
import { startBackend, startMesh, type Backend, type Mesh } from '../../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  virtualHost,
} from '../../../src/proxy/testing/resources.js';
import type { ProxyOptions } from '../../../src/proxy/proxy.js';
import { eventually } from '../../../src/core/testing/eventually.js';

export const COLLECTOR = 'outbound|4317||otel-collector.observability.svc.cluster.local';
export const COLLECTOR_HOST = 'otel-collector.observability.svc.cluster.local';
export const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
export const INBOUND = 'inbound|9080||';
export const OPERATION = 'reviews.default.svc.cluster.local:9080/*';

export interface TracingOptions {
  protocol: 'grpc' | 'http';
  random?: number;
  overall?: number;
  client?: number;
  spawnUpstreamSpan?: boolean;
  customTags?: object[];
  serviceName?: string;
  timeoutSeconds?: number;
}

/** HttpConnectionManager.tracing as Istio's configureTracingFromTelemetry writes it. */
export function tracingField(o: TracingOptions): Record<string, unknown> {
  const timeout = { seconds: o.timeoutSeconds ?? 5 };
  const otel =
    o.protocol === 'grpc'
      ? { grpc_service: { envoy_grpc: { cluster_name: COLLECTOR, authority: COLLECTOR_HOST }, timeout } }
      : {
          http_service: {
            http_uri: { uri: `${COLLECTOR_HOST}/v1/traces`, cluster: COLLECTOR, timeout },
            request_headers_to_add: [{ header: { key: 'x-collector-token', value: 'abc' } }],
          },
        };
  return {
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: packAny(TYPE.openTelemetryTracer, {
        service_name: o.serviceName ?? 'reviews.default',
        ...otel,
      }),
    },
    client_sampling: { value: o.client ?? 100 },
    random_sampling: { value: o.random ?? 100 },
    overall_sampling: { value: o.overall ?? 100 },
    custom_tags: o.customTags ?? [
      { tag: 'istio.canonical_service', literal: { value: 'reviews' } },
      { tag: 'istio.namespace', literal: { value: 'default' } },
    ],
    ...(o.spawnUpstreamSpan ? { spawn_upstream_span: { value: true } } : {}),
  };
}

export function collectorCluster(): object {
  return edsCluster(COLLECTOR);
}

export function collectorEndpoints(port: number): object {
  return endpoints(COLLECTOR, [{ port }]);
}

/** A listener with tracing, in a direction (OUTBOUND: egress, CLIENT spans). */
export function tracedListener(
  port: number,
  routeName: string,
  direction: 'INBOUND' | 'OUTBOUND' | undefined,
  tracing: Record<string, unknown>,
): object {
  const l = httpListener(port, routeName, { hcm: { tracing } }) as Record<string, unknown>;
  return direction ? { ...l, traffic_direction: direction } : l;
}

export function decoratedRoute(cluster: string): object {
  return { match: { prefix: '/' }, route: { cluster }, decorator: { operation: OPERATION } };
}

/** One proxy: a listener (bound on an ephemeral port) with tracing, to the app. */
export async function startTracedProxy(
  app: Backend,
  collectorPort: number,
  tracing: Record<string, unknown>,
  opts: { direction?: 'INBOUND' | 'OUTBOUND'; proxy?: Partial<ProxyOptions> } = {},
): Promise<Mesh & { close(): Promise<void>; listenerPort: number }> {
  const mesh = await startMesh(
    {
      CDS: [edsCluster(INBOUND), collectorCluster()],
      EDS: [endpoints(INBOUND, [{ port: app.port }]), collectorEndpoints(collectorPort)],
      LDS: [tracedListener(0, 'inbound', opts.direction, tracing)],
      RDS: [routeConfig('inbound', [virtualHost('inbound', ['*'], [decoratedRoute(INBOUND)])])],
    },
    { bindListeners: [0], ...opts.proxy },
    FakeAds,
  );
  const listenerPort = await eventually(
    () => mesh.proxy.listeners.ports.byListener.get('0.0.0.0_0') ?? false,
    'traced listener bound',
  );
  return { ...mesh, listenerPort };
}

export { startBackend };
