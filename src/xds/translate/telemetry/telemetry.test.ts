import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { Resource } from '../../../api/resource.js';
import { parseMeshTelemetry, type MeshTelemetry } from '../../../api/telemetry/mesh-telemetry.js';
import type { TelemetrySpec } from '../../../api/telemetry/types.js';
import { Problems } from '../../../core/errors.js';
import { TYPE, unpackAny, type AnyMessage, type ResourceTypeUrl } from '../../../protocol/protos.js';
import { ISTIO_STATS_TYPE_URL } from '../../../protocol/trellis/istio-stats.js';
import type { ProxyNode } from '../../proxy-node.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../index.js';
import {
  checkEncodes,
  config,
  endpoint,
  grpc,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from '../testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const OTEL = 'otel-collector.observability.svc.cluster.local';
const COLLECTOR_CLUSTER = `outbound|4317||${OTEL}`;

function mesh(yaml: string): MeshTelemetry {
  const problems = new Problems();
  const t = parseMeshTelemetry(parse(yaml) as Record<string, unknown>, problems);
  assert.deepEqual(problems.errors, []);
  return t;
}

const OTEL_MESH = mesh(`
extensionProviders:
- name: otel
  opentelemetry: { service: ${OTEL}, port: 4317 }
- name: otel-http
  opentelemetry: { service: ${OTEL}, port: 4318, http: { path: /v1/traces } }
defaultProviders: { tracing: [otel] }
`);

function telemetry(namespace: string, name: string, spec: TelemetrySpec): Resource<TelemetrySpec> {
  return { ...res('Telemetry', namespace, name, spec), apiVersion: 'telemetry.istio.io/v1' };
}

function push(resources: Resource[], t: MeshTelemetry = OTEL_MESH, prev?: PushContext): PushContext {
  return buildPushContext(
    config(resources),
    registry(
      [
        service(REVIEWS, [http(9080)]),
        service(OTEL, [grpc(4317), http(4318)], { namespace: 'observability' }),
      ],
      [
        endpoint(REVIEWS, '10.0.0.1', { ports: { 'http-9080': 8080 } }),
        endpoint(OTEL, '10.0.0.9', { namespace: 'observability' }),
      ],
    ),
    { telemetry: t },
    prev,
  );
}

function gen(p: PushContext, node: Partial<ProxyNode>, type: ResourceTypeUrl): Map<string, Loose> {
  const out = generate(p, proxy(node), type);
  checkEncodes(type, out);
  return out as Map<string, Loose>;
}

/** Every HCM of the listeners, decoded, by listener name. */
function hcms(listeners: Map<string, Loose>): Map<string, Loose> {
  const out = new Map<string, Loose>();
  for (const [name, l] of listeners)
    for (const chain of l.filter_chains ?? [])
      for (const f of chain.filters)
        if (f.typed_config?.type_url === TYPE.hcm)
          out.set(name, unpackAny<Loose>(f.typed_config as AnyMessage));
  return out;
}

const INBOUND = 'virtualInbound';
const isInbound = (name: string, l: Loose): boolean => l.traffic_direction === 'INBOUND' || name === INBOUND;

test('the default tracing provider puts an OpenTelemetry tracer on every HCM, naming the collector cluster', () => {
  const listeners = gen(push([]), {}, TYPE.listener);
  const all = hcms(listeners);
  assert.ok(all.size >= 2, [...all.keys()].join(','));
  let inbound = 0;
  for (const [name, h] of all) {
    if (isInbound(name, listeners.get(name))) inbound++;
    const t = h.tracing;
    assert.ok(t, `${name} has tracing`);
    assert.equal(t.provider.name, 'envoy.tracers.opentelemetry');
    const oc: Loose = unpackAny<Loose>(t.provider.typed_config as AnyMessage);
    assert.deepEqual(oc.grpc_service.envoy_grpc, { cluster_name: COLLECTOR_CLUSTER, authority: OTEL });
    assert.equal(oc.service_name, 'app.default');
    // Istio's default sampling (defaultConfig.tracing.sampling) is 1%.
    assert.deepEqual(t.random_sampling, { value: 1 });
    assert.deepEqual(t.client_sampling, { value: 100 });
    assert.deepEqual(t.overall_sampling, { value: 100 });
    assert.deepEqual(
      (t.custom_tags as Loose[]).map((c) => String(c.tag)),
      [
        'istio.canonical_revision',
        'istio.canonical_service',
        'istio.cluster_id',
        'istio.mesh_id',
        'istio.namespace',
      ],
    );
    assert.equal(t.spawn_upstream_span, undefined);
  }
  assert.ok(inbound > 0, 'an inbound HCM was checked');
});

test('Telemetry precedence: root sampling, namespace custom tags, workload provider over HTTP', () => {
  const p = push([
    telemetry('istio-system', 'mesh-default', { tracing: [{ randomSamplingPercentage: 10 }] }),
    telemetry('default', 'ns', { tracing: [{ customTags: { team: { literal: { value: 'books' } } } }] }),
    telemetry('default', 'reviews', {
      selector: { matchLabels: { app: 'reviews' } },
      tracing: [{ providers: [{ name: 'otel-http' }], match: { mode: 'SERVER' } }],
    }),
  ]);
  const reviews = gen(p, { labels: { app: 'reviews' } }, TYPE.listener);
  for (const [name, h] of hcms(reviews)) {
    const t = h.tracing;
    assert.deepEqual(t.random_sampling, { value: 10 }, name);
    assert.ok(
      (t.custom_tags as Loose[]).some((c) => c.tag === 'team' && c.literal.value === 'books'),
      name,
    );
    const oc: Loose = unpackAny<Loose>(t.provider.typed_config as AnyMessage);
    if (isInbound(name, reviews.get(name))) {
      assert.equal(oc.http_service.http_uri.uri, `${OTEL}/v1/traces`, name);
      assert.equal(oc.http_service.http_uri.cluster, `outbound|4318||${OTEL}`, name);
    } else {
      assert.equal(oc.grpc_service.envoy_grpc.cluster_name, COLLECTOR_CLUSTER, name);
    }
  }
  // Another workload of the namespace does not take the workload's Telemetry.
  for (const [, h] of hcms(gen(p, { labels: { app: 'ratings' } }, TYPE.listener))) {
    const oc: Loose = unpackAny<Loose>(h.tracing.provider.typed_config as AnyMessage);
    assert.ok(oc.grpc_service, 'gRPC collector');
  }
});

test('disableSpanReporting removes tracing; a workload Telemetry in another namespace does not apply', () => {
  const p = push([
    telemetry('default', 'off', { tracing: [{ disableSpanReporting: true }] }),
    telemetry('other', 'on', { tracing: [{ disableSpanReporting: false }] }),
  ]);
  for (const [, h] of hcms(gen(p, {}, TYPE.listener))) assert.equal(h.tracing, undefined);
  for (const [, h] of hcms(gen(p, { namespace: 'other' }, TYPE.listener))) assert.ok(h.tracing);
});

test('the collector cluster is added to CDS even when a Sidecar hides its service', () => {
  const sidecar = res('Sidecar', 'default', 'default', { egress: [{ hosts: ['./*'] }] });
  const clusters = gen(push([sidecar]), {}, TYPE.cluster);
  const c = clusters.get(COLLECTOR_CLUSTER);
  assert.ok(c, [...clusters.keys()].join(','));
  assert.equal(c.type, 'STATIC');
  assert.equal(
    c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address,
    '10.0.0.9',
  );
  assert.ok(c.typed_extension_protocol_options, 'HTTP/2 for OTLP over gRPC');
  // Without the Sidecar the service's own (EDS) cluster serves, unchanged.
  assert.equal(gen(push([]), {}, TYPE.cluster).get(COLLECTOR_CLUSTER).type, 'EDS');
});

test('no tracing when the provider names a service the registry does not have', () => {
  const t = mesh(`
extensionProviders: [{ name: gone, opentelemetry: { service: nowhere.example.com, port: 4317 } }]
defaultProviders: { tracing: [gone] }
`);
  for (const [, h] of hcms(gen(push([], t), {}, TYPE.listener))) assert.equal(h.tracing, undefined);
});

test('access log switched on for one workload, with a CEL filter, on inbound and outbound', () => {
  const p = push([
    telemetry('default', 'reviews-logs', {
      selector: { matchLabels: { app: 'reviews' } },
      accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code >= 400' } }],
    }),
  ]);
  const reviews = hcms(gen(p, { labels: { app: 'reviews' } }, TYPE.listener));
  for (const [name, h] of reviews) {
    const logs = h.access_log as Loose[];
    assert.equal(logs.length, 1, name);
    assert.equal(logs[0].name, 'envoy.access_loggers.file');
    const file: Loose = unpackAny<Loose>(logs[0].typed_config as AnyMessage);
    assert.equal(file.path, '/dev/stdout');
    assert.match(file.log_format.text_format_source.inline_string, /^\[%START_TIME%\] "%REQ\(:METHOD\)%/);
    assert.equal(logs[0].filter.extension_filter.name, 'envoy.access_loggers.extension_filters.cel');
    const cel: Loose = unpackAny<Loose>(logs[0].filter.extension_filter.typed_config as AnyMessage);
    assert.equal(cel.expression, 'response.code >= 400');
  }
  for (const [name, h] of hcms(gen(p, { labels: { app: 'ratings' } }, TYPE.listener)))
    assert.equal(h.access_log, undefined, name);
});

test('access logging: mesh default on, one workload off, client side only', () => {
  const t = mesh('defaultProviders: { accessLogging: [envoy] }');
  const p = push(
    [
      telemetry('default', 'quiet', {
        selector: { matchLabels: { app: 'quiet' } },
        accessLogging: [{ disabled: true }],
      }),
      telemetry('default', 'client', {
        selector: { matchLabels: { app: 'client' } },
        // As in Istio, a level that says anything about logging must enable each side it wants:
        // the defaults do not fill in a side it leaves out.
        accessLogging: [{ match: { mode: 'CLIENT' }, disabled: true }, { match: { mode: 'SERVER' } }],
      }),
    ],
    t,
  );
  const count = (labels: Record<string, string>, inbound: boolean): number => {
    const ls = gen(p, { labels }, TYPE.listener);
    let n = 0;
    for (const [name, h] of hcms(ls))
      if (isInbound(name, ls.get(name)) === inbound) n += (h.access_log ?? []).length;
    return n;
  };
  assert.ok(count({ app: 'loud' }, false) > 0 && count({ app: 'loud' }, true) > 0);
  assert.equal(count({ app: 'quiet' }, false) + count({ app: 'quiet' }, true), 0);
  assert.equal(count({ app: 'client' }, false), 0);
  assert.ok(count({ app: 'client' }, true) > 0);
});

test('legacy accessLogFile with JSON encoding gives a JSON file logger on every HCM and TCP proxy', () => {
  const t = mesh('accessLogFile: /tmp/access.log\naccessLogEncoding: JSON');
  const p = buildPushContext(
    config([]),
    registry([
      service(REVIEWS, [http(9080)]),
      service('db.default.svc.cluster.local', [{ name: 'tcp', number: 5432, protocol: 'TCP' }]),
    ]),
    { telemetry: t },
  );
  const ls = gen(p, {}, TYPE.listener);
  let tcp = 0;
  for (const [, l] of ls)
    for (const chain of l.filter_chains ?? [])
      for (const f of chain.filters) {
        const cfg: Loose = unpackAny<Loose>(f.typed_config as AnyMessage);
        if (f.typed_config.type_url === TYPE.tcpProxy) tcp++;
        const log: Loose = unpackAny<Loose>(cfg.access_log[0].typed_config as AnyMessage);
        assert.equal(log.path, '/tmp/access.log');
        assert.equal(log.log_format.json_format.fields.response_code.stringValue, '%RESPONSE_CODE%');
      }
  assert.ok(tcp > 0, 'a TCP proxy was checked');
});

test('stats proxies get istio.stats before the router with reporter and overrides; others do not', () => {
  const p = push([
    telemetry('istio-system', 'mesh', {
      metrics: [
        {
          overrides: [
            {
              match: { metric: 'REQUEST_COUNT', mode: 'SERVER' },
              tagOverrides: { request_host: { value: 'request.host' } },
            },
            { match: { metric: 'ALL_METRICS' }, tagOverrides: { destination_port: { operation: 'REMOVE' } } },
            { match: { metric: 'REQUEST_SIZE', mode: 'CLIENT' }, disabled: true },
          ],
        },
      ],
    }),
  ]);
  const stats = gen(p, { metadata: { TRELLIS_FILTERS: 'lanes,stats' } }, TYPE.listener);
  let checked = 0;
  for (const [name, h] of hcms(stats)) {
    const filters = h.http_filters as Loose[];
    const at = filters.findIndex((f) => f.name === 'istio.stats');
    assert.equal(at, filters.length - 2, `${name}: just before the router`);
    const ts: Loose = unpackAny<Loose>(filters[at].typed_config as AnyMessage);
    assert.equal(ts.type_url, ISTIO_STATS_TYPE_URL);
    const f = ts.value.fields;
    const inbound = isInbound(name, stats.get(name));
    assert.equal(f.reporter.stringValue, inbound ? 'SERVER_SIDE' : 'CLIENT_SIDE');
    const metrics = (f.metrics.listValue.values as Loose[]).map((v): Loose => v.structValue.fields);
    const byName = new Map(metrics.map((m) => [m.name.stringValue as string, m]));
    assert.equal(byName.size, 10, name);
    assert.deepEqual(
      byName.get('requests_total').tags_to_remove.listValue.values.map((v: Loose) => String(v.stringValue)),
      ['destination_port'],
    );
    if (inbound)
      assert.equal(
        byName.get('requests_total').dimensions.structValue.fields.request_host.stringValue,
        'request.host',
      );
    else assert.equal(byName.get('requests_total').dimensions, undefined);
    assert.equal(byName.get('request_bytes').drop?.boolValue, inbound ? undefined : true);
    checked++;
  }
  assert.ok(checked >= 2);
  for (const [, h] of hcms(gen(p, {}, TYPE.listener)))
    assert.ok(!(h.http_filters as Loose[]).some((f) => f.name === 'istio.stats'));
});

test('ALL_METRICS disabled drops the stats filter on that side only', () => {
  const p = push([
    telemetry('default', 'm', { metrics: [{ overrides: [{ match: { mode: 'CLIENT' }, disabled: true }] }] }),
  ]);
  const ls = gen(p, { metadata: { TRELLIS_FILTERS: 'stats' } }, TYPE.listener);
  for (const [name, h] of hcms(ls)) {
    const has = (h.http_filters as Loose[]).some((f) => f.name === 'istio.stats');
    assert.equal(has, isInbound(name, ls.get(name)), name);
  }
});

test('gateways: client-side tracing with spawn_upstream_span, Gateway targetRef selects them', () => {
  const gw = res('Gateway', 'default', 'gw', {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  });
  const node: Partial<ProxyNode> = {
    type: 'router',
    labels: { istio: 'ingressgateway', 'gateway.networking.k8s.io/gateway-name': 'edge' },
  };
  const p = push([
    gw,
    telemetry('default', 'edge', {
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' },
      tracing: [{ randomSamplingPercentage: 100 }],
      accessLogging: [{ providers: [{ name: 'envoy' }] }],
    }),
  ]);
  const all = hcms(gen(p, node, TYPE.listener));
  assert.ok(all.size > 0);
  for (const [, h] of all) {
    assert.deepEqual(h.tracing.spawn_upstream_span, { value: true });
    assert.deepEqual(h.tracing.random_sampling, { value: 100 });
    assert.equal((h.access_log as Loose[]).length, 1);
  }
  // A gateway of another name takes none of it.
  const other = hcms(gen(p, { ...node, labels: { istio: 'ingressgateway' } }, TYPE.listener));
  for (const [, h] of other) assert.equal(h.access_log, undefined);
});

test('proxyless gRPC gets no telemetry', () => {
  const p = push([telemetry('default', 'logs', { accessLogging: [{ providers: [{ name: 'envoy' }] }] })]);
  const ls = gen(p, { type: 'grpc' }, TYPE.listener);
  for (const [, h] of hcms(ls)) {
    assert.equal(h.tracing, undefined);
    assert.equal(h.access_log, undefined);
  }
});

test('a Telemetry edit changes LDS for the workloads it selects and nothing else', () => {
  const before = push([]);
  const on = telemetry('default', 'logs', {
    selector: { matchLabels: { app: 'reviews' } },
    accessLogging: [{ providers: [{ name: 'envoy' }] }],
  });
  const after = push([on], OTEL_MESH, before);
  assert.deepEqual([...affectedTypes(before, after, proxy({ labels: { app: 'reviews' } }))], [TYPE.listener]);
  assert.deepEqual([...affectedTypes(before, after, proxy({ labels: { app: 'ratings' } }))], []);
  const off = push([], OTEL_MESH, after);
  assert.deepEqual([...affectedTypes(after, off, proxy({ labels: { app: 'reviews' } }))], [TYPE.listener]);
});
