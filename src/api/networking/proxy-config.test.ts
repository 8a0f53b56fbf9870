import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';
import {
  effectiveProxyConfig,
  metadataFromEnvironment,
  proxyConfigFingerprint,
  type MeshProxyDefaults,
  type ProxyConfigResource,
  type ProxyConfigSpec,
} from './proxy-config.js';

function problems(spec: unknown, apiVersion = 'networking.istio.io/v1beta1'): string[] {
  return validateResource({ apiVersion, kind: 'ProxyConfig', metadata: { name: 'pc' }, spec }).map(
    (p) => `${p.severity}: ${formatProblem(p)}`,
  );
}

const AT_START = (field: string) =>
  `warning: spec.${field}: applied when a proxy starts: running proxies keep the value they started with until restarted (trellis proxy-status shows which)`;

const ROWS: [string, unknown, string[]][] = [
  ['selector only', { selector: { matchLabels: { app: 'a' } } }, []],
  ['an empty spec (Istio: valid)', {}, []],
  ['concurrency 0 (one per CPU)', { concurrency: 0 }, [AT_START('concurrency')]],
  [
    'negative concurrency',
    { concurrency: -1 },
    ['error: spec.concurrency: -1 is out of range; expected >= 0', AT_START('concurrency')],
  ],
  [
    'image is not applicable',
    { image: { imageType: 'distroless' } },
    [
      'warning: spec.image: not applicable to the Trellis proxy (it is not a container image chosen per workload); remove it or keep it for Istio',
    ],
  ],
  [
    'environment variable names',
    { environmentVariables: { ISTIO_META_X: '1', '1BAD': 'x', 'BAD-NAME': 'y' } },
    [
      'error: spec.environmentVariables.1BAD: not an environment variable name (letters, digits and _, not starting with a digit)',
      'error: spec.environmentVariables.BAD-NAME: not an environment variable name (letters, digits and _, not starting with a digit)',
      AT_START('environmentVariables'),
    ],
  ],
  [
    'variables that would change how the proxy process runs are refused with the reason',
    {
      environmentVariables: {
        ISTIO_META_X: '1',
        NODE_OPTIONS: '--require /tmp/evil.js',
        LD_PRELOAD: '/tmp/evil.so',
        PATH: '/tmp',
      },
    },
    [
      'error: spec.environmentVariables.NODE_OPTIONS: would change how the proxy process runs: Node.js reads NODE_* (NODE_OPTIONS loads code, NODE_EXTRA_CA_CERTS and NODE_TLS_REJECT_UNAUTHORIZED change trust); remove it (ISTIO_META_* and other names are allowed)',
      'error: spec.environmentVariables.LD_PRELOAD: would change how the proxy process runs: the dynamic loader reads LD_* (LD_PRELOAD loads a library into the process); remove it (ISTIO_META_* and other names are allowed)',
      'error: spec.environmentVariables.PATH: would change how the proxy process runs: PATH decides which programs the proxy runs; remove it (ISTIO_META_* and other names are allowed)',
      AT_START('environmentVariables'),
    ],
  ],
  [
    'empty selector selects nothing (Istio skips it)',
    { selector: {} },
    [
      'warning: spec.selector: a selector without matchLabels selects no workload; remove selector to apply it to the whole namespace',
    ],
  ],
  [
    'selector spelled labels (not ProxyConfig)',
    { selector: { labels: { app: 'a' } } },
    [
      'error: spec.selector.labels: unknown field; allowed: matchLabels',
      'warning: spec.selector: a selector without matchLabels selects no workload; remove selector to apply it to the whole namespace',
    ],
  ],
];

for (const [rule, spec, want] of ROWS) {
  test(`ProxyConfig: ${rule}`, () => assert.deepEqual(problems(spec), want));
}

test('ProxyConfig without spec is accepted, as Istio accepts it', () => {
  const out = validateResource({
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'ProxyConfig',
    metadata: { name: 'pc', namespace: 'shop' },
  });
  assert.deepEqual(out, []);
  // Other kinds still need one.
  const vs = validateResource({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'v' },
  });
  assert.deepEqual(
    vs.map((p) => formatProblem(p)),
    ['spec: required'],
  );
});

test('ProxyConfig exists in v1beta1 only, as in Istio', () => {
  assert.match(problems({}, 'networking.istio.io/v1')[0] ?? '', /ProxyConfig does not exist in version "v1"/);
});

let clock = 0;
function pc(namespace: string, name: string, spec: ProxyConfigSpec): ProxyConfigResource {
  clock++;
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'ProxyConfig',
    metadata: { name, namespace, creationTimestamp: `2026-01-01T00:00:${String(clock).padStart(2, '0')}Z` },
    spec,
  };
}

const root = pc('istio-system', 'mesh', { concurrency: 2, environmentVariables: { A: 'root' } });
const ns = pc('shop', 'ns', { concurrency: 4 });
const sel = pc('shop', 'sel', {
  selector: { matchLabels: { app: 'cart' } },
  environmentVariables: { A: 'sel' },
});
const otherNs = pc('other', 'x', { concurrency: 9 });
const laterNs = pc('shop', 'later', { concurrency: 8 });

const PRECEDENCE: [
  string,
  ProxyConfigResource[],
  { namespace: string; labels: Record<string, string> },
  object,
  MeshProxyDefaults?,
][] = [
  [
    'selector, then namespace, then root, field by field',
    [root, ns, sel, otherNs],
    { namespace: 'shop', labels: { app: 'cart' } },
    {
      concurrency: 4,
      environmentVariables: { A: 'sel' },
      sources: ['shop/sel', 'shop/ns', 'istio-system/mesh'],
    },
  ],
  [
    'a workload the selector does not pick',
    [root, ns, sel],
    { namespace: 'shop', labels: { app: 'web' } },
    { concurrency: 4, environmentVariables: { A: 'root' }, sources: ['shop/ns', 'istio-system/mesh'] },
  ],
  [
    'only the root namespace',
    [root, otherNs],
    { namespace: 'shop', labels: {} },
    { concurrency: 2, environmentVariables: { A: 'root' }, sources: ['istio-system/mesh'] },
  ],
  [
    'the oldest of two namespace-wide configs',
    [laterNs, ns],
    { namespace: 'shop', labels: {} },
    { concurrency: 4, environmentVariables: {}, sources: ['shop/ns'] },
  ],
  [
    'the oldest of two selecting configs',
    [
      pc('shop', 'z-old', { selector: { matchLabels: { app: 'cart' } }, concurrency: 3 }),
      pc('shop', 'a-new', { selector: { matchLabels: { app: 'cart' } }, concurrency: 5 }),
    ],
    { namespace: 'shop', labels: { app: 'cart', version: 'v1' } },
    { concurrency: 3, environmentVariables: {}, sources: ['shop/z-old'] },
  ],
  [
    'created at the same time: by namespace/name',
    [
      {
        ...pc('shop', 'b', { concurrency: 2 }),
        metadata: { name: 'b', namespace: 'shop', creationTimestamp: 'T' },
      },
      {
        ...pc('shop', 'a', { concurrency: 1 }),
        metadata: { name: 'a', namespace: 'shop', creationTimestamp: 'T' },
      },
    ],
    { namespace: 'shop', labels: {} },
    { concurrency: 1, environmentVariables: {}, sources: ['shop/a'] },
  ],
  [
    'a selector config of another namespace never applies',
    [pc('other', 'sel', { selector: { matchLabels: { app: 'cart' } }, concurrency: 7 })],
    { namespace: 'shop', labels: { app: 'cart' } },
    { environmentVariables: {}, sources: [] },
  ],
  [
    'a root-namespace selector config is not mesh-wide',
    [pc('istio-system', 'rsel', { selector: { matchLabels: { app: 'cart' } }, concurrency: 7 })],
    { namespace: 'shop', labels: { app: 'cart' } },
    { environmentVariables: {}, sources: [] },
  ],
  [
    'a selector needs every label it names',
    [pc('shop', 'two', { selector: { matchLabels: { app: 'cart', version: 'v2' } }, concurrency: 7 })],
    { namespace: 'shop', labels: { app: 'cart', version: 'v1' } },
    { environmentVariables: {}, sources: [] },
  ],
  [
    'an empty selector selects nothing and is not namespace-wide (Istio)',
    [
      pc('shop', 'empty', { selector: {}, concurrency: 7 }),
      pc('shop', 'empty2', { selector: { matchLabels: {} }, concurrency: 6 }),
    ],
    { namespace: 'shop', labels: { app: 'cart' } },
    { environmentVariables: {}, sources: [] },
  ],
  [
    'environment variables merge name by name, the most specific winning',
    [
      pc('istio-system', 'm', { environmentVariables: { A: 'root', B: 'root' } }),
      pc('shop', 'n', { environmentVariables: { B: 'ns', C: 'ns' } }),
      pc('shop', 'w', { selector: { matchLabels: { app: 'cart' } }, environmentVariables: { C: 'wl' } }),
    ],
    { namespace: 'shop', labels: { app: 'cart' } },
    {
      environmentVariables: { A: 'root', B: 'ns', C: 'wl' },
      sources: ['shop/w', 'shop/n', 'istio-system/m'],
    },
  ],
  [
    "the mesh config's defaultConfig under all",
    [ns],
    { namespace: 'shop', labels: {} },
    { concurrency: 4, environmentVariables: { M: '1' }, sources: ['shop/ns', 'mesh config'] },
    { concurrency: 1, proxyMetadata: { M: '1' } },
  ],
  [
    "the mesh config's defaultConfig alone",
    [],
    { namespace: 'shop', labels: {} },
    { concurrency: 0, environmentVariables: {}, sources: ['mesh config'] },
    { concurrency: 0 },
  ],
  [
    'concurrency 0 overrides a lower level (it is set, not absent)',
    [pc('istio-system', 'r0', { concurrency: 4 }), pc('shop', 'n0', { concurrency: 0 })],
    { namespace: 'shop', labels: {} },
    { concurrency: 0, environmentVariables: {}, sources: ['shop/n0', 'istio-system/r0'] },
  ],
  [
    'a proxy in the root namespace reads its config once',
    [root],
    { namespace: 'istio-system', labels: {} },
    { concurrency: 2, environmentVariables: { A: 'root' }, sources: ['istio-system/mesh'] },
  ],
];

for (const [name, configs, proxy, want, mesh] of PRECEDENCE) {
  test(`ProxyConfig precedence: ${name}`, () => {
    assert.deepEqual(effectiveProxyConfig(configs, proxy, 'istio-system', mesh), want);
  });
}

test('fingerprint: changes with what a proxy runs with, not with key order', () => {
  const a = proxyConfigFingerprint({ concurrency: 2, environmentVariables: { A: '1', B: '2' } });
  assert.equal(a, proxyConfigFingerprint({ concurrency: 2, environmentVariables: { B: '2', A: '1' } }));
  assert.match(a, /^[0-9a-f]{12}$/);
  const others = [
    proxyConfigFingerprint({ concurrency: 3, environmentVariables: { A: '1', B: '2' } }),
    proxyConfigFingerprint({ environmentVariables: { A: '1', B: '2' } }),
    proxyConfigFingerprint({ concurrency: 2, environmentVariables: { A: '1', B: '3' } }),
    proxyConfigFingerprint({ concurrency: 2, environmentVariables: { A: '1' } }),
  ];
  assert.equal(new Set([a, ...others]).size, 5);
});

test('ISTIO_META_ variables become node metadata without the prefix', () => {
  assert.deepEqual(
    metadataFromEnvironment({
      ISTIO_META_DNS_CAPTURE: 'true',
      ISTIO_META_: 'x',
      OTHER: 'y',
      ISTIO_METAX: 'z',
    }),
    { DNS_CAPTURE: 'true' },
  );
});
