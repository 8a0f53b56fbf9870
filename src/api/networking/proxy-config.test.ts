import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';
import { effectiveProxyConfig, type ProxyConfigResource, type ProxyConfigSpec } from './proxy-config.js';

function problems(spec: unknown, apiVersion = 'networking.istio.io/v1beta1'): string[] {
  return validateResource({ apiVersion, kind: 'ProxyConfig', metadata: { name: 'pc' }, spec }).map(
    (p) => `${p.severity}: ${formatProblem(p)}`,
  );
}

const NOT_APPLIED_CONCURRENCY =
  'warning: spec.concurrency: accepted but not applied yet: a Trellis proxy takes its worker count at start from trellis proxy --concurrency N';

const ROWS: [string, unknown, string[]][] = [
  ['selector only', { selector: { matchLabels: { app: 'a' } } }, []],
  ['concurrency 0 (one per CPU)', { concurrency: 0 }, [NOT_APPLIED_CONCURRENCY]],
  [
    'negative concurrency',
    { concurrency: -1 },
    ['error: spec.concurrency: -1 is out of range; expected >= 0', NOT_APPLIED_CONCURRENCY],
  ],
  [
    'image ignored with a warning',
    { image: { imageType: 'distroless' } },
    [
      'warning: spec.image: ignored: Trellis proxies are not container images chosen per workload; remove it or keep it for Istio',
    ],
  ],
  [
    'environment variable names',
    { environmentVariables: { ISTIO_META_X: '1', '1BAD': 'x' } },
    [
      'error: spec.environmentVariables.1BAD: not an environment variable name (letters, digits and _, not starting with a digit)',
      'warning: spec.environmentVariables: accepted but not applied yet: set the variables in the environment of trellis proxy',
    ],
  ],
  [
    'empty selector warns',
    { selector: {} },
    ['warning: spec.selector: workload selector without labels: it selects every workload in the namespace'],
  ],
  [
    'selector spelled labels (not ProxyConfig)',
    { selector: { labels: { app: 'a' } } },
    [
      'error: spec.selector.labels: unknown field; allowed: matchLabels',
      'warning: spec.selector: workload selector without labels: it selects every workload in the namespace',
    ],
  ],
];

for (const [rule, spec, want] of ROWS) {
  test(`ProxyConfig: ${rule}`, () => assert.deepEqual(problems(spec), want));
}

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
];

for (const [name, configs, proxy, want] of PRECEDENCE) {
  test(`ProxyConfig precedence: ${name}`, () => {
    assert.deepEqual(effectiveProxyConfig(configs, proxy, 'istio-system'), want);
  });
}
