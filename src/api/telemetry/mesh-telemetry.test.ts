import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { formatProblem, Problems } from '../../core/errors.js';
import { parseMeshTelemetry } from './mesh-telemetry.js';
import { parseMeshConfig } from '../mesh-config.js';
import { TrellisError } from '../../core/errors.js';

function read(yaml: string) {
  const problems = new Problems();
  const t = parseMeshTelemetry(parse(yaml) as Record<string, unknown>, problems);
  return { t, errors: problems.errors.map(formatProblem), warnings: problems.warnings.map(formatProblem) };
}

test("defaults: Istio's built-in envoy and prometheus providers, metrics to prometheus, 1% sampling", () => {
  const { t, errors } = read('{}');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    t.providers.map((p) => [p.name, p.kind]),
    [
      ['envoy', 'envoyFileAccessLog'],
      ['prometheus', 'prometheus'],
    ],
  );
  assert.deepEqual(t.defaultProviders, { tracing: [], accessLogging: [], metrics: ['prometheus'] });
  assert.equal(t.tracingSampling, 1);
  assert.equal(t.enableTracing, true);
});

test('opentelemetry over gRPC and HTTP, file access logs with text and labels', () => {
  const { t, errors, warnings } = read(`
extensionProviders:
- name: otel
  opentelemetry: { service: otel-collector.observability.svc.cluster.local, port: 4317, maxTagLength: 99 }
- name: otel-http
  opentelemetry:
    service: collector.obs
    port: 4318
    http: { path: /v1/traces, timeout: 2s, headers: [{ name: x-token, value: abc }] }
    resourceDetectors: { environment: {} }
- name: json-log
  envoyFileAccessLog: { path: /tmp/a.log, logFormat: { labels: { code: '%RESPONSE_CODE%' } } }
- name: text-log
  envoyFileAccessLog: { logFormat: { text: '%RESPONSE_CODE%' } }
defaultProviders: { tracing: [otel], accessLogging: [text-log] }
defaultConfig: { tracing: { sampling: 100 } }
accessLogFile: /dev/stdout
accessLogEncoding: JSON
`);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, [
    "extensionProviders[1].opentelemetry.resourceDetectors: accepted but ignored: spans carry the proxy's own service.name",
  ]);
  assert.deepEqual(t.providers.slice(0, 4), [
    {
      name: 'otel',
      kind: 'opentelemetry',
      service: 'otel-collector.observability.svc.cluster.local',
      port: 4317,
      maxTagLength: 99,
    },
    {
      name: 'otel-http',
      kind: 'opentelemetry',
      service: 'collector.obs',
      port: 4318,
      http: { path: '/v1/traces', timeoutMs: 2000, headers: [{ name: 'x-token', value: 'abc' }] },
    },
    {
      name: 'json-log',
      kind: 'envoyFileAccessLog',
      path: '/tmp/a.log',
      format: { labels: { code: '%RESPONSE_CODE%' } },
    },
    {
      name: 'text-log',
      kind: 'envoyFileAccessLog',
      path: '/dev/stdout',
      format: { text: '%RESPONSE_CODE%\n' },
    },
  ]);
  assert.deepEqual(t.defaultProviders, {
    tracing: ['otel'],
    accessLogging: ['text-log'],
    metrics: ['prometheus'],
  });
  assert.equal(t.tracingSampling, 100);
  assert.equal(t.accessLogFile, '/dev/stdout');
  assert.equal(t.accessLogEncoding, 'JSON');
});

test('zipkin is accepted with a warning that spans are not sent to it', () => {
  const { t, errors, warnings } = read(
    'extensionProviders: [{ name: zk, zipkin: { service: zipkin.istio-system, port: 9411 } }]',
  );
  assert.deepEqual(errors, []);
  assert.match(
    warnings[0] ?? '',
    /^extensionProviders\[0\]\.zipkin: zipkin is not supported by Trellis proxies/,
  );
  assert.equal(t.providers[0]?.kind, 'zipkin');
});

test('a file defining "envoy" itself replaces the built-in one', () => {
  const { t } = read('extensionProviders: [{ name: envoy, envoyFileAccessLog: { path: /tmp/x.log } }]');
  assert.deepEqual(
    t.providers.filter((p) => p.name === 'envoy'),
    [{ name: 'envoy', kind: 'envoyFileAccessLog', path: '/tmp/x.log' }],
  );
});

test('invalid telemetry fields are errors with their path', () => {
  const cases: [string, string][] = [
    [
      'extensionProviders: [{ name: o, opentelemetry: { service: c } }]',
      'extensionProviders[0].opentelemetry.port: required',
    ],
    [
      'extensionProviders: [{ name: o, opentelemetry: { service: c, port: 1, http: {}, grpc: {} } }]',
      'extensionProviders[0].opentelemetry: only one of http, grpc may be set',
    ],
    [
      'defaultProviders: { tracing: [nope] }',
      'defaultProviders.tracing[0]: no extension provider named "nope"; define it in extensionProviders',
    ],
    ['accessLogEncoding: XML', 'accessLogEncoding: "XML" is not valid; expected one of TEXT, JSON'],
    [
      "accessLogEncoding: JSON\naccessLogFormat: 'not json'",
      'accessLogFormat: with accessLogEncoding JSON, expected a JSON object of field -> command operator',
    ],
    [
      'defaultConfig: { tracing: { sampling: -1 } }',
      'defaultConfig.tracing.sampling: -1 is out of range; expected >= 0',
    ],
    [
      'extensionProviders: [{ name: l, envoyFileAccessLog: { logFormat: { text: a, labels: {} } } }]',
      'extensionProviders[0].envoyFileAccessLog.logFormat: only one of text, labels may be set',
    ],
  ];
  for (const [yaml, want] of cases) assert.deepEqual(read(yaml).errors, [want], yaml);
});

test('parseMeshConfig refuses a bad telemetry field naming the file', () => {
  assert.throws(
    () => parseMeshConfig('defaultProviders: { accessLogging: [missing] }', 'mesh.yaml'),
    (e: unknown) =>
      e instanceof TrellisError &&
      e.describe().startsWith('mesh.yaml: defaultProviders.accessLogging[0]: no extension provider'),
  );
});
