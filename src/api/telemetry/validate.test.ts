import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, Problems } from '../../core/errors.js';
import { lookupKind } from '../kinds.js';
import { validateTelemetry } from './validate.js';

function check(spec: unknown): { errors: string[]; warnings: string[] } {
  const problems = new Problems();
  validateTelemetry(spec, problems, 'spec');
  return { errors: problems.errors.map(formatProblem), warnings: problems.warnings.map(formatProblem) };
}

test('Telemetry is accepted as telemetry.istio.io v1 and v1alpha1, not v1beta1', () => {
  assert.equal(lookupKind('telemetry.istio.io/v1', 'Telemetry').ok, true);
  assert.equal(lookupKind('telemetry.istio.io/v1alpha1', 'Telemetry').ok, true);
  const bad = lookupKind('telemetry.istio.io/v1beta1', 'Telemetry');
  assert.equal(bad.ok, false);
});

// Examples from Istio's Telemetry documentation: each validates with no problem at all.
const VALID: [string, unknown][] = [
  ['mesh default tracing', { tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 10 }] }],
  [
    'custom tags',
    {
      tracing: [
        {
          customTags: {
            env: { literal: { value: 'prod' } },
            pod: { environment: { name: 'POD_NAME', defaultValue: 'x' } },
            user: { header: { name: 'x-user' } },
          },
        },
      ],
    },
  ],
  [
    'access log for one workload',
    { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ providers: [{ name: 'envoy' }] }] },
  ],
  ['access log filter', { accessLogging: [{ filter: { expression: 'response.code >= 400' } }] }],
  ['access log off for clients', { accessLogging: [{ match: { mode: 'CLIENT' }, disabled: true }] }],
  [
    'metrics overrides',
    {
      metrics: [
        {
          providers: [{ name: 'prometheus' }],
          reportingInterval: '15s',
          overrides: [
            {
              match: { metric: 'REQUEST_COUNT', mode: 'SERVER' },
              tagOverrides: { request_host: { value: 'request.host' } },
            },
            { match: { metric: 'ALL_METRICS' }, tagOverrides: { destination_port: { operation: 'REMOVE' } } },
            { match: { customMetric: 'my_metric' }, disabled: true },
          ],
        },
      ],
    },
  ],
  [
    'gateway target',
    { targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }, tracing: [{}] },
  ],
];

test('valid Telemetry resources have no problems', () => {
  for (const [name, spec] of VALID) assert.deepEqual(check(spec), { errors: [], warnings: [] }, name);
});

// [description, spec, exact errors]
const INVALID: [string, unknown, string[]][] = [
  [
    'selector and targetRef together',
    { selector: { matchLabels: { app: 'a' } }, targetRef: { kind: 'Service', name: 'a' } },
    ['spec: only one of selector, targetRef, targetRefs may be set; found selector, targetRef'],
  ],
  [
    'sampling over 100',
    { tracing: [{ randomSamplingPercentage: 100.5 }] },
    ['spec.tracing[0].randomSamplingPercentage: 100.5 is out of range; expected 0..100'],
  ],
  [
    'negative sampling',
    { tracing: [{ randomSamplingPercentage: -1 }] },
    ['spec.tracing[0].randomSamplingPercentage: -1 is out of range; expected 0..100'],
  ],
  [
    'empty provider name',
    { metrics: [{ providers: [{ name: '' }] }] },
    ['spec.metrics[0].providers[0].name: required; must not be empty'],
  ],
  [
    'empty literal tag',
    { tracing: [{ customTags: { a: { literal: { value: '' } } } }] },
    ['spec.tracing[0].customTags.a.literal.value: literal tag value may not be empty'],
  ],
  [
    'header tag without a name',
    { tracing: [{ customTags: { a: { header: {} } } }] },
    ['spec.tracing[0].customTags.a.header.name: header tag name may not be empty'],
  ],
  [
    'tag with two kinds',
    { tracing: [{ customTags: { a: { literal: { value: 'x' }, header: { name: 'h' } } } }] },
    [
      'spec.tracing[0].customTags.a: expected exactly one of literal, environment, header; found literal, header',
    ],
  ],
  [
    'UPSERT without value',
    { metrics: [{ overrides: [{ tagOverrides: { foo: { operation: 'UPSERT' } } }] }] },
    ['spec.metrics[0].overrides[0].tagOverrides.foo.value: must be set when operation is UPSERT'],
  ],
  [
    'default operation is UPSERT, so a value is needed',
    { metrics: [{ overrides: [{ tagOverrides: { foo: {} } }] }] },
    ['spec.metrics[0].overrides[0].tagOverrides.foo.value: must be set when operation is UPSERT'],
  ],
  [
    'REMOVE with value',
    { metrics: [{ overrides: [{ tagOverrides: { foo: { operation: 'REMOVE', value: 'oops' } } }] }] },
    ['spec.metrics[0].overrides[0].tagOverrides.foo.value: may only be set when operation is UPSERT'],
  ],
  [
    'empty custom metric',
    { metrics: [{ overrides: [{ match: { customMetric: '' } }] }] },
    ['spec.metrics[0].overrides[0].match.customMetric: customMetric may not be empty'],
  ],
  [
    'unknown metric',
    { metrics: [{ overrides: [{ match: { metric: 'REQUESTS' } }] }] },
    [
      'spec.metrics[0].overrides[0].match.metric: "REQUESTS" is not valid; expected one of ALL_METRICS, REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS, TCP_SENT_BYTES, TCP_RECEIVED_BYTES, GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES',
    ],
  ],
  [
    'unknown mode',
    { accessLogging: [{ match: { mode: 'BOTH' } }] },
    [
      'spec.accessLogging[0].match.mode: "BOTH" is not valid; expected one of CLIENT, SERVER, CLIENT_AND_SERVER',
    ],
  ],
  [
    'filter that is not CEL',
    { accessLogging: [{ filter: { expression: 'response.code >=' } }] },
    [
      'spec.accessLogging[0].filter.expression: invalid CEL expression "response.code >=": Unexpected token: EOF',
    ],
  ],
  [
    'filter with a comprehension (its cost grows with list sizes and runs on every request)',
    { accessLogging: [{ filter: { expression: '[1, 2].all(a, [1, 2].all(b, true))' } }] },
    [
      'spec.accessLogging[0].filter.expression: invalid CEL expression "[1, 2].all(a, [1, 2].all(b, true))": the comprehension all() is not allowed: it runs once per element on every request and nests to any cost (Envoy disables comprehensions too); test a value with ==, in, has(), startsWith() or matches() instead',
    ],
  ],
  [
    'tag override with a comprehension',
    {
      metrics: [
        { overrides: [{ tagOverrides: { a: { value: "string(request.headers.exists(k, k == 'x'))" } } }] },
      ],
    },
    [
      'spec.metrics[0].overrides[0].tagOverrides.a.value: invalid CEL expression "string(request.headers.exists(k, k == \'x\'))": the comprehension exists() is not allowed: it runs once per element on every request and nests to any cost (Envoy disables comprehensions too); test a value with ==, in, has(), startsWith() or matches() instead',
    ],
  ],
  [
    'tag override value that is not CEL',
    { metrics: [{ overrides: [{ tagOverrides: { a: { value: 'request.host +' } } }] }] },
    [
      'spec.metrics[0].overrides[0].tagOverrides.a.value: invalid CEL expression "request.host +": Unexpected token: EOF',
    ],
  ],
  [
    'null override',
    { metrics: [{ overrides: [null] }] },
    ['spec.metrics[0].overrides[0]: an override may not be null'],
  ],
  [
    'bad reporting interval',
    { metrics: [{ reportingInterval: 'soon' }] },
    [
      'spec.metrics[0].reportingInterval: invalid duration "soon": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
    ],
  ],
  [
    'unknown field',
    { tracing: [{ sampling: 5 }] },
    [
      'spec.tracing[0].sampling: unknown field; allowed: match, providers, randomSamplingPercentage, disableSpanReporting, customTags, useRequestIdForTraceSampling, enableIstioTags, disableContextPropagation',
    ],
  ],
  [
    'disableContextPropagation is refused, not ignored',
    { tracing: [{ disableContextPropagation: true }] },
    [
      'spec.tracing[0].disableContextPropagation: not supported by Trellis proxies; remove it (trace context is always propagated)',
    ],
  ],
];

test('invalid Telemetry resources are rejected with field path and reason', () => {
  for (const [name, spec, errors] of INVALID) assert.deepEqual(check(spec).errors, errors, name);
});

test('more than one tracing entry or provider warns that only the first applies', () => {
  const r = check({ tracing: [{ providers: [{ name: 'a' }, { name: 'b' }] }, {}] });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    'spec.tracing: multiple tracing entries are not supported; later entries override earlier ones',
    'spec.tracing[0].providers: multiple providers are not supported; only the first is used',
  ]);
});
