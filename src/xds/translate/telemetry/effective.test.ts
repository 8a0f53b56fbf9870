import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { Problems } from '../../../core/errors.js';
import { parseMeshTelemetry, type MeshTelemetry } from '../../../api/telemetry/mesh-telemetry.js';
import type { TelemetrySpec } from '../../../api/telemetry/types.js';
import { effectiveLogging, effectiveMetrics, effectiveTracing, type Side } from './effective.js';
import { selectTelemetries, type TelemetryResource } from './select.js';

function mesh(yaml = '{}'): MeshTelemetry {
  return parseMeshTelemetry(parse(yaml) as Record<string, unknown>, new Problems());
}

const MESH = mesh(`
extensionProviders:
- { name: otel, opentelemetry: { service: a.b, port: 4317 } }
- { name: otel2, opentelemetry: { service: c.d, port: 4317 } }
- { name: json, envoyFileAccessLog: { path: /tmp/j.log, logFormat: { labels: {} } } }
- { name: prom2, prometheus: {} }
`);
const TRACED = mesh(`
extensionProviders: [{ name: otel, opentelemetry: { service: a.b, port: 4317 } }]
defaultProviders: { tracing: [otel], accessLogging: [envoy] }
`);

type Row<T> = [name: string, specs: TelemetrySpec[], m: MeshTelemetry, side: Side, want: T];

const tracing = (s: ReturnType<typeof effectiveTracing>) =>
  s === undefined
    ? 'legacy'
    : `${s.disabled ? 'off' : 'on'}:${s.provider?.name ?? '-'}:${s.sampling ?? 'mesh'}:${Object.keys(s.customTags ?? {}).join('+')}${s.enableIstioTags ? '' : ':no-istio-tags'}${s.useRequestIdForTraceSampling ? '' : ':no-request-id'}`;

const TRACING: Row<string>[] = [
  ['nothing says anything: legacy', [], MESH, 'CLIENT', 'legacy'],
  ['a default provider alone', [], TRACED, 'SERVER', 'on:otel:mesh:'],
  [
    'a Telemetry without provider and no default: off',
    [{ tracing: [{ randomSamplingPercentage: 5 }] }],
    MESH,
    'CLIENT',
    'off:-:5:',
  ],
  [
    'later levels override earlier ones field by field',
    [
      { tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 10 }] },
      { tracing: [{ customTags: { a: { literal: { value: 'x' } } } }] },
      { tracing: [{ randomSamplingPercentage: 50 }] },
    ],
    MESH,
    'CLIENT',
    'on:otel:50:a',
  ],
  [
    'a SERVER entry does not touch the client side',
    [
      { tracing: [{ providers: [{ name: 'otel' }] }] },
      { tracing: [{ match: { mode: 'SERVER' }, disableSpanReporting: true }] },
    ],
    MESH,
    'CLIENT',
    'on:otel:mesh:',
  ],
  [
    'and does on the server side',
    [
      { tracing: [{ providers: [{ name: 'otel' }] }] },
      { tracing: [{ match: { mode: 'SERVER' }, disableSpanReporting: true }] },
    ],
    MESH,
    'SERVER',
    'off:otel:mesh:',
  ],
  [
    'only the first provider of an entry is used',
    [{ tracing: [{ providers: [{ name: 'otel2' }, { name: 'otel' }] }] }],
    MESH,
    'CLIENT',
    'on:otel2:mesh:',
  ],
  [
    'provider names match case-insensitively',
    [{ tracing: [{ providers: [{ name: 'OTEL' }] }] }],
    MESH,
    'CLIENT',
    'on:otel:mesh:',
  ],
  [
    'an unknown provider turns tracing off',
    [{ tracing: [{ providers: [{ name: 'nope' }] }] }],
    TRACED,
    'CLIENT',
    'off:-:mesh:',
  ],
  [
    'an entry that does not mention disableSpanReporting keeps it',
    [{ tracing: [{ disableSpanReporting: true }] }, { tracing: [{ randomSamplingPercentage: 3 }] }],
    TRACED,
    'CLIENT',
    'off:otel:3:',
  ],
  [
    'enableIstioTags and useRequestIdForTraceSampling default true, are overridden, and kept when unmentioned',
    [
      { tracing: [{ enableIstioTags: false, useRequestIdForTraceSampling: false }] },
      { tracing: [{ randomSamplingPercentage: 1 }] },
    ],
    TRACED,
    'CLIENT',
    'on:otel:1::no-istio-tags:no-request-id',
  ],
  [
    'disableSpanReporting false turns it back on',
    [{ tracing: [{ disableSpanReporting: true }] }, { tracing: [{ disableSpanReporting: false }] }],
    TRACED,
    'CLIENT',
    'on:otel:mesh:',
  ],
];

test('effective tracing: precedence and sides (table)', () => {
  for (const [name, specs, m, side, want] of TRACING)
    assert.equal(tracing(effectiveTracing(specs, m, side)), want, name);
});

const logging = (l: ReturnType<typeof effectiveLogging>) =>
  l === undefined
    ? 'legacy'
    : l
        .map((s) => `${s.provider.name}${s.disabled ? ':off' : ''}${s.filter ? `[${s.filter}]` : ''}`)
        .join(',');

const LOGGING: Row<string>[] = [
  ['nothing: legacy', [], MESH, 'CLIENT', 'legacy'],
  ['the default provider', [], TRACED, 'CLIENT', 'envoy'],
  [
    'a workload switches the built-in envoy log on',
    [{}, { accessLogging: [{ providers: [{ name: 'envoy' }] }] }],
    MESH,
    'SERVER',
    'envoy',
  ],
  [
    'a namespace disables the default',
    [{ accessLogging: [{ disabled: true }] }],
    TRACED,
    'CLIENT',
    'envoy:off',
  ],
  [
    'a workload enables what the namespace disabled',
    [{ accessLogging: [{ disabled: true }] }, { accessLogging: [{ disabled: false }] }],
    TRACED,
    'CLIENT',
    'envoy',
  ],
  [
    'the most specific level naming providers chooses them',
    [
      { accessLogging: [{ providers: [{ name: 'envoy' }] }] },
      { accessLogging: [{ providers: [{ name: 'json' }] }] },
    ],
    MESH,
    'CLIENT',
    'json',
  ],
  [
    'a filter on the entry that names the provider',
    [{ accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code >= 500' } }] }],
    MESH,
    'CLIENT',
    'envoy[response.code >= 500]',
  ],
  [
    'a filter on an entry that inherits its provider applies too (Istio would drop it)',
    [{ accessLogging: [{ filter: { expression: 'response.code >= 400' } }] }],
    TRACED,
    'CLIENT',
    'envoy[response.code >= 400]',
  ],
  [
    'a CLIENT entry leaves the server side unlogged',
    [{ accessLogging: [{ match: { mode: 'CLIENT' }, providers: [{ name: 'envoy' }] }] }],
    MESH,
    'SERVER',
    '',
  ],
  [
    'CLIENT_AND_SERVER covers both',
    [{ accessLogging: [{ match: { mode: 'CLIENT_AND_SERVER' }, providers: [{ name: 'envoy' }] }] }],
    MESH,
    'SERVER',
    'envoy',
  ],
  ['an empty accessLogging list says nothing: legacy', [{ accessLogging: [] }, {}], MESH, 'CLIENT', 'legacy'],
  [
    'an unknown provider is skipped',
    [{ accessLogging: [{ providers: [{ name: 'nope' }] }] }],
    MESH,
    'CLIENT',
    '',
  ],
  [
    'several providers, sorted by name',
    [{ accessLogging: [{ providers: [{ name: 'json' }, { name: 'envoy' }] }] }],
    MESH,
    'CLIENT',
    'envoy,json',
  ],
  [
    'a provider that is not a file logger is skipped',
    [{ accessLogging: [{ providers: [{ name: 'otel' }] }] }],
    MESH,
    'CLIENT',
    '',
  ],
];

test('effective access logging: precedence, sides, filters (table)', () => {
  for (const [name, specs, m, side, want] of LOGGING)
    assert.equal(logging(effectiveLogging(specs, m, side)), want, name);
});

const metrics = (ms: ReturnType<typeof effectiveMetrics>) =>
  ms
    .map(
      (s) =>
        `${s.provider.name}${s.disabled ? ':off' : ''}{${s.overrides
          .map(
            (o) =>
              `${o.metric}${o.disabled ? '!' : ''}${o.tags.map((t) => `/${t.name}=${t.value ?? 'x'}`).join('')}`,
          )
          .join(' ')}}`,
    )
    .join(',');

const METRICS: Row<string>[] = [
  ['prometheus by default, no overrides', [], MESH, 'CLIENT', 'prometheus{}'],
  [
    'tag overrides accumulate by name across levels',
    [
      {
        metrics: [
          {
            overrides: [
              { match: { metric: 'REQUEST_COUNT' }, tagOverrides: { b: { value: '2' }, a: { value: '1' } } },
            ],
          },
        ],
      },
      {
        metrics: [
          {
            overrides: [{ match: { metric: 'REQUEST_COUNT' }, tagOverrides: { a: { operation: 'REMOVE' } } }],
          },
        ],
      },
    ],
    MESH,
    'SERVER',
    'prometheus{REQUEST_COUNT/a=x/b=2}',
  ],
  [
    'mode SERVER overrides are not on the client side',
    [{ metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'SERVER' }, disabled: true }] }] }],
    MESH,
    'CLIENT',
    'prometheus{}',
  ],
  [
    'ALL_METRICS disabled turns the side off; a later level turns it back on',
    [
      { metrics: [{ overrides: [{ disabled: true }] }] },
      { metrics: [{ overrides: [{ match: { metric: 'REQUEST_SIZE' }, disabled: true }] }] },
    ],
    MESH,
    'CLIENT',
    'prometheus{REQUEST_SIZE!}',
  ],
  [
    'a level naming its provider applies its overrides there',
    [
      {
        metrics: [
          {
            providers: [{ name: 'prom2' }],
            overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }],
          },
        ],
      },
    ],
    MESH,
    'CLIENT',
    'prom2{REQUEST_COUNT!}',
  ],
  [
    'overrides for a provider out of scope are dropped',
    [
      {
        metrics: [
          {
            providers: [{ name: 'prometheus' }],
            overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }],
          },
        ],
      },
      { metrics: [{ providers: [{ name: 'prom2' }] }] },
    ],
    MESH,
    'CLIENT',
    'prom2{}',
  ],
  [
    'several providers and metrics, sorted',
    [
      {
        metrics: [
          {
            providers: [{ name: 'prometheus' }, { name: 'prom2' }],
            overrides: [
              { match: { metric: 'REQUEST_SIZE' }, disabled: true },
              { match: { metric: 'REQUEST_COUNT' }, disabled: true },
            ],
          },
        ],
      },
    ],
    MESH,
    'CLIENT',
    'prom2{REQUEST_COUNT! REQUEST_SIZE!},prometheus{REQUEST_COUNT! REQUEST_SIZE!}',
  ],
  [
    'a later override without disabled keeps the metric dropped',
    [
      { metrics: [{ overrides: [{ match: { metric: 'REQUEST_SIZE' }, disabled: true }] }] },
      {
        metrics: [
          { overrides: [{ match: { metric: 'REQUEST_SIZE' }, tagOverrides: { a: { value: '1' } } }] },
        ],
      },
    ],
    MESH,
    'CLIENT',
    'prometheus{REQUEST_SIZE!/a=1}',
  ],
  [
    'a custom metric disabled drops only it',
    [{ metrics: [{ overrides: [{ match: { customMetric: 'mine' }, disabled: true }] }] }],
    MESH,
    'CLIENT',
    'prometheus{mine!}',
  ],
  [
    'an unknown metrics provider makes no filter',
    [{ metrics: [{ providers: [{ name: 'nope' }] }] }],
    MESH,
    'CLIENT',
    '',
  ],
  [
    'ALL_METRICS disabled alone',
    [{ metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }] }] }],
    MESH,
    'CLIENT',
    'prometheus:off{}',
  ],
  [
    'a custom metric',
    [
      {
        metrics: [
          { overrides: [{ match: { customMetric: 'my_metric' }, tagOverrides: { x: { value: "'y'" } } }] },
        ],
      },
    ],
    MESH,
    'CLIENT',
    "prometheus{my_metric/x='y'}",
  ],
  [
    'providers named later replace the defaults; non-prometheus ones make no filter',
    [{ metrics: [{ providers: [{ name: 'otel' }], overrides: [{ disabled: true }] }] }],
    MESH,
    'CLIENT',
    '',
  ],
];

test('effective metrics: overrides merged per metric and side (table)', () => {
  for (const [name, specs, m, side, want] of METRICS)
    assert.equal(metrics(effectiveMetrics(specs, m, side)), want, name);
  const all = effectiveMetrics(
    [{ metrics: [{ overrides: [{ tagOverrides: { t: { value: 'v' } } }] }] }],
    MESH,
    'CLIENT',
  );
  assert.equal(all[0]?.overrides.length, 10, 'no match: every standard metric');
});

let created = 0;
function tel(namespace: string, name: string, spec: TelemetrySpec): TelemetryResource {
  created++;
  return {
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: {
      name,
      namespace,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, created)).toISOString(),
    },
    spec,
  };
}

test('selection: root mesh-wide, then namespace-wide, then workload ones of the own namespace, oldest first', () => {
  const all = [
    tel('default', 'workload', { selector: { matchLabels: { app: 'reviews' } } }),
    tel('istio-system', 'mesh', {}),
    tel('istio-system', 'mesh-second', {}),
    tel('istio-system', 'root-selector', { selector: { matchLabels: { app: 'reviews' } } }),
    tel('default', 'ns', {}),
    tel('other', 'ns', {}),
    tel('default', 'gw', {
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' },
    }),
    tel('default', 'svc', { targetRef: { kind: 'Service', name: 'reviews' } }),
    tel('default', 'workload-2', { selector: { matchLabels: { version: 'v1' } } }),
  ];
  const names = (p: Parameters<typeof selectTelemetries>[2]) =>
    selectTelemetries(all, 'istio-system', p).map((t) => `${t.metadata.namespace}/${t.metadata.name}`);
  assert.deepEqual(
    names({ type: 'sidecar', namespace: 'default', labels: { app: 'reviews', version: 'v1' } }),
    ['istio-system/mesh', 'default/ns', 'default/workload', 'default/workload-2'],
  );
  assert.deepEqual(names({ type: 'sidecar', namespace: 'default', labels: { app: 'ratings' } }), [
    'istio-system/mesh',
    'default/ns',
  ]);
  assert.deepEqual(names({ type: 'sidecar', namespace: 'third', labels: { app: 'reviews' } }), [
    'istio-system/mesh',
  ]);
  assert.deepEqual(
    names({
      type: 'router',
      namespace: 'default',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
    }),
    ['istio-system/mesh', 'default/ns', 'default/gw'],
  );
  // A sidecar labelled like the gateway does not take a Gateway-targeted Telemetry.
  assert.deepEqual(
    names({
      type: 'sidecar',
      namespace: 'default',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
    }),
    ['istio-system/mesh', 'default/ns'],
  );
  assert.deepEqual(names({ type: 'sidecar', namespace: 'istio-system', labels: { app: 'reviews' } }), [
    'istio-system/mesh',
    'istio-system/root-selector',
  ]);
});
