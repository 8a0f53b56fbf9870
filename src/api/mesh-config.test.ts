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
    'defaultConfig.concurrency',
    'defaultConfig.tracing.zipkin',
    'enablePrometheusMerge',
    'trustDomainAliases',
  ]);
  assert.equal(m.telemetry.tracingSampling, 5);
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
