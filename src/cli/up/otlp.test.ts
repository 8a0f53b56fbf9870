import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { Problems, TrellisError } from '../../core/errors.js';
import { DEFAULT_MESH_TELEMETRY, parseMeshTelemetry } from '../../api/telemetry/mesh-telemetry.js';
import { otlpServiceEntry, otlpTelemetry, parseOtlpUrl } from './otlp.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import { buildPushContext, generate } from '../../xds/translate/index.js';
import { config, grpc, proxy, registry, service } from '../../xds/translate/testkit.js';

test('--otlp URLs: OTLP/HTTP with its path, OTLP/gRPC, default ports', () => {
  const cases: [string, object][] = [
    [
      'http://127.0.0.1:4318/v1/traces',
      { protocol: 'http', host: '127.0.0.1', port: 4318, path: '/v1/traces' },
    ],
    ['http://collector:9999', { protocol: 'http', host: 'collector', port: 9999, path: '/v1/traces' }],
    [
      'http://collector/otlp/v1/traces',
      { protocol: 'http', host: 'collector', port: 4318, path: '/otlp/v1/traces' },
    ],
    [
      'grpc://otel.observability:4317',
      { protocol: 'grpc', host: 'otel.observability', port: 4317, path: '/v1/traces' },
    ],
    ['grpc://localhost', { protocol: 'grpc', host: 'localhost', port: 4317, path: '/v1/traces' }],
  ];
  for (const [url, want] of cases) assert.deepEqual(parseOtlpUrl(url), want, url);
});

test('--otlp refuses what it cannot do, saying what to write instead', () => {
  const cases: [string, RegExp][] = [
    [
      'collector:4317',
      /unknown scheme "collector"; expected http:\/\/HOST:PORT\/v1\/traces or grpc:\/\/HOST:PORT/,
    ],
    ['not a url', /is not a URL/],
    ['https://c:4318/v1/traces', /TLS to the collector is not supported; use http:\/\/c:4318\/v1\/traces/],
    ['grpc://c:4317/v1/traces', /an OTLP\/gRPC URL has no path; use grpc:\/\/HOST:PORT/],
    ['http://u:p@c:4318/', /credentials, query and fragment are not supported/],
  ];
  for (const [url, want] of cases)
    assert.throws(
      () => parseOtlpUrl(url),
      (e: unknown) =>
        e instanceof TrellisError && e.code === 'TRELLIS_INVALID_ARGUMENT' && want.test(e.message),
      url,
    );
});

test('--otlp makes the collector the default tracing provider at 100% unless the mesh config says', () => {
  const t = otlpTelemetry(DEFAULT_MESH_TELEMETRY, parseOtlpUrl('http://127.0.0.1:4318/v1/traces'));
  assert.deepEqual(t.defaultProviders.tracing, ['otlp']);
  assert.equal(t.tracingSampling, 100);
  assert.deepEqual(
    t.providers.find((p) => p.name === 'otlp'),
    {
      name: 'otlp',
      kind: 'opentelemetry',
      service: 'otlp-collector.trellis.local',
      port: 4318,
      http: { path: '/v1/traces', headers: [] },
    },
  );
  const problems = new Problems();
  const own = parseMeshTelemetry(
    parse(`
extensionProviders: [{ name: mine, opentelemetry: { service: c.example.com, port: 4317 } }]
defaultProviders: { tracing: [mine] }
defaultConfig: { tracing: { sampling: 5 } }
`) as Record<string, unknown>,
    problems,
  );
  const kept = otlpTelemetry(own, parseOtlpUrl('grpc://collector:4317'));
  assert.deepEqual(kept.defaultProviders.tracing, ['mine']);
  assert.equal(kept.tracingSampling, 5);
  assert.ok(
    kept.providers.some((p) => p.name === 'otlp' && p.kind === 'opentelemetry' && p.http === undefined),
  );
});

test('--otlp ServiceEntry: STATIC for an address, DNS for a name, in the root namespace', () => {
  const byAddress = otlpServiceEntry(parseOtlpUrl('grpc://127.0.0.1:4317'));
  assert.equal(byAddress.metadata.namespace, 'istio-system');
  assert.deepEqual(byAddress.spec, {
    hosts: ['otlp-collector.trellis.local'],
    location: 'MESH_EXTERNAL',
    resolution: 'STATIC',
    ports: [{ number: 4317, name: 'grpc-otlp', protocol: 'GRPC' }],
    endpoints: [{ address: '127.0.0.1' }],
  });
  const byName = otlpServiceEntry(parseOtlpUrl('http://otel.example.com:4318/v1/traces'));
  assert.equal((byName.spec as { resolution: string }).resolution, 'DNS');
  assert.deepEqual((byName.spec as { hosts: string[] }).hosts, ['otel.example.com']);
});

test('--otlp end to end in translation: every HCM traces to the collector cluster the ServiceEntry gives', () => {
  const target = parseOtlpUrl('grpc://127.0.0.1:4317');
  const se = otlpServiceEntry(target);
  const push = buildPushContext(
    config([se]),
    registry([
      service('otlp-collector.trellis.local', [grpc(4317)], {
        namespace: 'istio-system',
        location: 'MESH_EXTERNAL',
      }),
    ]),
    { telemetry: otlpTelemetry(DEFAULT_MESH_TELEMETRY, target) },
  );
  const listeners = generate(push, proxy(), TYPE.listener);
  let traced = 0;
  for (const l of listeners.values() as Iterable<{
    filter_chains?: { filters: { typed_config: { type_url: string; value: Buffer } }[] }[];
  }>)
    for (const chain of l.filter_chains ?? [])
      for (const f of chain.filters) {
        if (f.typed_config.type_url !== TYPE.hcm) continue;
        const hcm = unpackAny<{
          tracing?: {
            random_sampling: { value: number };
            provider: { typed_config: { type_url: string; value: Buffer } };
          };
        }>(f.typed_config);
        assert.deepEqual(hcm.tracing?.random_sampling, { value: 100 });
        const oc = unpackAny<{ grpc_service: { envoy_grpc: { cluster_name: string } } }>(
          hcm.tracing.provider.typed_config,
        );
        assert.equal(oc.grpc_service.envoy_grpc.cluster_name, 'outbound|4317||otlp-collector.trellis.local');
        traced++;
      }
  assert.ok(traced > 0);
});
