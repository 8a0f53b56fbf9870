import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrellisError } from '../core/errors.js';
import { parseMeshConfig } from './mesh-config.js';

test('pathNormalization: DEFAULT and absent are BASE; each Istio mode is read', () => {
  assert.equal(parseMeshConfig('', 'm.yaml').pathNormalization, 'BASE');
  assert.equal(
    parseMeshConfig('pathNormalization: { normalization: DEFAULT }', 'm.yaml').pathNormalization,
    'BASE',
  );
  for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'])
    assert.equal(
      parseMeshConfig(`pathNormalization:\n  normalization: ${mode}\n`, 'm.yaml').pathNormalization,
      mode,
    );
});

test('fields Trellis does not apply are listed, not rejected', () => {
  const m = parseMeshConfig(
    'enablePrometheusMerge: true\ntrustDomainAliases: [a]\npathNormalization: {}\ndefaultConfig: { concurrency: 2, tracing: { sampling: 5, zipkin: {} } }\n',
    'm.yaml',
  );
  assert.deepEqual(m.ignoredFields, [
    'defaultConfig.tracing.zipkin',
    'enablePrometheusMerge',
    'trustDomainAliases',
  ]);
  assert.equal(m.telemetry.tracingSampling, 5);
  assert.equal(m.proxyDefaults.concurrency, 2);
});

test('invalid values name the file and field', () => {
  const cases: [string, string][] = [
    [
      'pathNormalization: { normalization: SOMETIMES }',
      'm.yaml: pathNormalization.normalization: expected one of',
    ],
    ['pathNormalization: { mode: BASE }', 'm.yaml: pathNormalization.mode: unknown field'],
    ['pathNormalization: BASE', 'm.yaml: pathNormalization: expected a mapping'],
    ['- a', 'm.yaml: expected a mapping'],
    ['a: [', 'm.yaml: invalid YAML'],
  ];
  for (const [text, want] of cases) {
    assert.throws(
      () => parseMeshConfig(text, 'm.yaml'),
      (e: unknown) => e instanceof TrellisError && e.describe().startsWith(want),
      text,
    );
  }
});

test('outboundTrafficPolicy: absent is ALLOW_ANY (Istio); REGISTRY_ONLY is read', () => {
  assert.equal(parseMeshConfig('', 'm.yaml').outboundTrafficPolicy, 'ALLOW_ANY');
  assert.equal(parseMeshConfig('outboundTrafficPolicy: {}', 'm.yaml').outboundTrafficPolicy, 'ALLOW_ANY');
  assert.equal(
    parseMeshConfig('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n', 'm.yaml').outboundTrafficPolicy,
    'REGISTRY_ONLY',
  );
  assert.deepEqual(parseMeshConfig('outboundTrafficPolicy: { mode: ALLOW_ANY }', 'm.yaml').ignoredFields, []);
  const cases: [string, string][] = [
    [
      'outboundTrafficPolicy: { mode: registry_only }',
      'm.yaml: outboundTrafficPolicy.mode: expected ALLOW_ANY or REGISTRY_ONLY, got "registry_only"',
    ],
    ['outboundTrafficPolicy: REGISTRY_ONLY', 'm.yaml: outboundTrafficPolicy: expected a mapping with `mode`'],
    [
      'outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: { host: egress } }',
      'm.yaml: outboundTrafficPolicy.egressProxy: egressProxy is not supported',
    ],
    ['outboundTrafficPolicy: { mdoe: ALLOW_ANY }', 'm.yaml: outboundTrafficPolicy.mdoe: unknown field'],
  ];
  for (const [text, want] of cases) {
    assert.throws(
      () => parseMeshConfig(text, 'm.yaml'),
      (e: unknown) => e instanceof TrellisError && e.describe().startsWith(want),
      text,
    );
  }
});

test('defaultConfig: concurrency and proxyMetadata are the ProxyConfig defaults; its other fields are listed', () => {
  const m = parseMeshConfig(
    'defaultConfig:\n  concurrency: 2\n  proxyMetadata: { ISTIO_META_DNS_CAPTURE: "true" }\n  holdApplicationUntilProxyStarts: true\n',
    'm.yaml',
  );
  assert.deepEqual(m.proxyDefaults, { concurrency: 2, proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' } });
  assert.deepEqual(m.ignoredFields, ['defaultConfig.holdApplicationUntilProxyStarts']);
  assert.deepEqual(parseMeshConfig('defaultConfig: {}', 'm.yaml').proxyDefaults, {});
});

for (const [text, path, message] of [
  ['defaultConfig: 2', 'defaultConfig', /expected a mapping/],
  ['defaultConfig: { concurrency: -1 }', 'defaultConfig.concurrency', /whole number >= 0/],
  ['defaultConfig: { concurrency: "2" }', 'defaultConfig.concurrency', /whole number >= 0/],
  ['defaultConfig: { proxyMetadata: [a] }', 'defaultConfig.proxyMetadata', /mapping of environment/],
  [
    'defaultConfig: { proxyMetadata: { A: 1 } }',
    'defaultConfig.proxyMetadata.A',
    /expected a string.*quote it/,
  ],
] as const) {
  test(`defaultConfig refused: ${text}`, () => {
    assert.throws(
      () => parseMeshConfig(text, 'm.yaml'),
      (err: TrellisError) => err.path === path && err.file === 'm.yaml' && message.test(err.message),
    );
  });
}
