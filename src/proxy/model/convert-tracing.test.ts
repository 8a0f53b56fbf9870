import assert from 'node:assert/strict';
import test from 'node:test';
import { Problems, formatProblem } from '../../core/errors.js';
import { TYPE, packAny, unpackAny } from '../../protocol/protos.js';
import type { HttpConnectionManager__Output } from '../../protocol/envoy-types.js';
import { convertTracing, splitUri } from './convert-tracing.js';

const COLLECTOR = 'outbound|4317||otel-collector.observability.svc.cluster.local';

/** The tracing field as the proxy decodes it off the wire. */
function decoded(tracing: object): NonNullable<HttpConnectionManager__Output['tracing']> {
  const hcm = unpackAny<HttpConnectionManager__Output>(packAny(TYPE.hcm, { stat_prefix: 'x', tracing }));
  return hcm.tracing!;
}

function otel(config: object, name = 'envoy.tracers.opentelemetry'): object {
  return { name, typed_config: packAny(TYPE.openTelemetryTracer, config) };
}

const GRPC = { grpc_service: { envoy_grpc: { cluster_name: COLLECTOR, authority: 'otel-collector' } } };

function convert(tracing: object, env: Record<string, string> = {}) {
  const problems = new Problems();
  const out = convertTracing(decoded(tracing), 'egress', 'hcm.tracing', problems, env);
  return { out, errors: problems.errors.map(formatProblem) };
}

test('convertTracing: what Istio writes for an opentelemetry provider is accepted', () => {
  const { out, errors } = convert(
    {
      provider: otel({
        service_name: 'productpage.default',
        ...GRPC,
        grpc_service: {
          ...GRPC.grpc_service,
          timeout: { seconds: 2 },
          initial_metadata: [{ key: 'X-Token', value: 't' }],
        },
      }),
      client_sampling: { value: 100 },
      random_sampling: { value: 1 },
      overall_sampling: { value: 100 },
      max_path_tag_length: { value: 64 },
      custom_tags: [
        { tag: 'istio.canonical_service', literal: { value: 'productpage' } },
        { tag: 'pod', environment: { name: 'POD_NAME', default_value: 'unknown' } },
        { tag: 'pod2', environment: { name: 'MISSING', default_value: 'dflt' } },
        { tag: 'ua', request_header: { name: 'User-Agent', default_value: '-' } },
        {
          tag: 'istio.authorization.dry_run.allow_policy.name',
          metadata: {
            kind: { request: {} },
            metadata_key: {
              key: 'envoy.filters.http.rbac',
              path: [{ key: 'istio_dry_run_allow_shadow_effective_policy_id' }],
            },
          },
        },
      ],
    },
    { POD_NAME: 'productpage-v1-abc' },
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(out, {
    operation: 'egress',
    serviceName: 'productpage.default',
    export: {
      kind: 'grpc',
      cluster: COLLECTOR,
      authority: 'otel-collector',
      timeoutMs: 2000,
      metadata: [['x-token', 't']],
    },
    randomSampling: 1,
    clientSampling: 100,
    overallSampling: 100,
    customTags: [
      { tag: 'istio.canonical_service', kind: 'literal', value: 'productpage' },
      { tag: 'pod', kind: 'environment', value: 'productpage-v1-abc' },
      { tag: 'pod2', kind: 'environment', value: 'dflt' },
      { tag: 'ua', kind: 'request_header', name: 'user-agent', defaultValue: '-' },
      {
        tag: 'istio.authorization.dry_run.allow_policy.name',
        kind: 'request_metadata',
        namespace: 'envoy.filters.http.rbac',
        path: ['istio_dry_run_allow_shadow_effective_policy_id'],
        defaultValue: '',
      },
    ],
    spawnUpstreamSpan: false,
    maxPathTagLength: 64,
  });
});

test('convertTracing: defaults (Envoy: 100% everywhere, 256 path chars, unknown_service:envoy) and HTTP export', () => {
  const { out, errors } = convert({
    provider: otel({
      http_service: {
        http_uri: {
          uri: 'otel-collector.observability.svc.cluster.local:4318/v1/traces',
          cluster: COLLECTOR,
          timeout: { seconds: 1 },
        },
        request_headers_to_add: [{ header: { key: 'Authorization', value: 'Bearer x' } }],
      },
    }),
    spawn_upstream_span: { value: true },
  });
  assert.deepEqual(errors, []);
  assert.equal(out?.serviceName, 'unknown_service:envoy');
  assert.deepEqual(
    [out?.randomSampling, out?.clientSampling, out?.overallSampling, out?.maxPathTagLength],
    [100, 100, 100, 256],
  );
  assert.equal(out?.spawnUpstreamSpan, true);
  assert.deepEqual(out?.export, {
    kind: 'http',
    cluster: COLLECTOR,
    authority: 'otel-collector.observability.svc.cluster.local:4318',
    path: '/v1/traces',
    timeoutMs: 1000,
    headers: [['authorization', 'Bearer x']],
  });
});

test('convertTracing: what the proxy does not honour is NACKed with its path', () => {
  const rows: [string, object, string][] = [
    [
      'zipkin',
      { provider: { name: 'envoy.tracers.zipkin', typed_config: packAny(TYPE.router, {}) } },
      'hcm.tracing.provider: tracer "envoy.tracers.zipkin" is not supported',
    ],
    ['no provider', { random_sampling: { value: 5 } }, 'hcm.tracing.provider: a tracer is required'],
    [
      'verbose',
      { provider: otel(GRPC), verbose: true },
      'hcm.tracing.verbose: verbose span annotations are not supported',
    ],
    [
      'percent > 100',
      { provider: otel(GRPC), random_sampling: { value: 150 } },
      'hcm.tracing.random_sampling.value: must be between 0 and 100, got 150',
    ],
    [
      'negative percent',
      { provider: otel(GRPC), overall_sampling: { value: -1 } },
      'hcm.tracing.overall_sampling.value: must be between 0 and 100',
    ],
    [
      'google_grpc',
      { provider: otel({ grpc_service: { google_grpc: { target_uri: 'x:4317', stat_prefix: 'x' } } }) },
      'hcm.tracing.provider.typed_config.grpc_service.google_grpc: field is not supported',
    ],
    [
      'both exporters',
      { provider: otel({ ...GRPC, http_service: { http_uri: { uri: 'h/v1/traces', cluster: COLLECTOR } } }) },
      'hcm.tracing.provider.typed_config: grpc_service and http_service are mutually exclusive',
    ],
    [
      'empty cluster',
      { provider: otel({ grpc_service: { envoy_grpc: { cluster_name: '' } } }) },
      'hcm.tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name: must be non-empty',
    ],
    [
      'sampler',
      { provider: otel({ ...GRPC, sampler: { name: 'envoy.tracers.opentelemetry.samplers.always_on' } }) },
      'hcm.tracing.provider.typed_config.sampler: sampler extensions are not supported',
    ],
    [
      'resource detectors',
      {
        provider: otel({
          ...GRPC,
          resource_detectors: [{ name: 'envoy.tracers.opentelemetry.resource_detectors.environment' }],
        }),
      },
      'hcm.tracing.provider.typed_config.resource_detectors: resource detectors are not supported',
    ],
    [
      'bad uri',
      { provider: otel({ http_service: { http_uri: { uri: 'http:///v1/traces', cluster: COLLECTOR } } }) },
      'hcm.tracing.provider.typed_config.http_service.http_uri.uri: expected [http[s]://]host[:port]/path',
    ],
    [
      'route metadata tag',
      {
        provider: otel(GRPC),
        custom_tags: [{ tag: 'x', metadata: { kind: { route: {} }, metadata_key: { key: 'k' } } }],
      },
      'hcm.tracing.custom_tags[0].metadata.kind: only request (dynamic) metadata is supported',
    ],
    [
      'tag without type',
      { provider: otel(GRPC), custom_tags: [{ tag: 'x' }] },
      'hcm.tracing.custom_tags[0]: expected one of literal, environment, request_header, metadata',
    ],
    [
      'tag without name',
      { provider: otel(GRPC), custom_tags: [{ literal: { value: 'v' } }] },
      'hcm.tracing.custom_tags[0].tag: must be non-empty',
    ],
  ];
  for (const [name, tracing, want] of rows) {
    const { out, errors } = convert(tracing);
    assert.equal(out, undefined, name);
    assert.ok(
      errors.some((e) => e.startsWith(want)),
      `${name}: ${JSON.stringify(errors)}`,
    );
  }
});

test('splitUri: the forms Istio and Envoy write', () => {
  assert.deepEqual(splitUri('otel.ns.svc.cluster.local/v1/traces'), {
    authority: 'otel.ns.svc.cluster.local',
    path: '/v1/traces',
  });
  assert.deepEqual(splitUri('http://otel:4318/v1/traces'), { authority: 'otel:4318', path: '/v1/traces' });
  assert.deepEqual(splitUri('HTTPS://otel'), { authority: 'otel', path: '/' });
  assert.equal(splitUri(''), undefined);
  assert.equal(splitUri('user@otel/v1'), undefined);
});
