import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedProxyConfig } from '../controlplane/proxy-configs.js';
import { proxyStartup, type ProxyStartup, type StartupInput } from './proxy-startup.js';

const resolved = (r: Partial<ResolvedProxyConfig>): ResolvedProxyConfig => ({
  environmentVariables: {},
  sources: ['shop/pc'],
  fingerprint: 'f1',
  ...r,
});

const ROWS: [string, Partial<StartupInput>, ProxyStartup][] = [
  [
    'not asked: one process, no metadata',
    {},
    { concurrency: 1, env: {}, metadata: {}, summary: undefined, dropped: [] },
  ],
  [
    'not asked, but ISTIO_META_ in its own environment (as Istio agent reads it)',
    { processEnv: { ISTIO_META_CLUSTER_ID: 'east', PATH: '/bin' } },
    { concurrency: 1, env: {}, metadata: { CLUSTER_ID: 'east' }, summary: undefined, dropped: [] },
  ],
  [
    'asked, nothing applies: the fingerprint is still reported',
    { resolved: resolved({ sources: [] }) },
    { concurrency: 1, env: {}, metadata: { TRELLIS_PROXY_CONFIG: 'f1' }, summary: undefined, dropped: [] },
  ],
  [
    'concurrency 2 and an environment',
    {
      resolved: resolved({
        concurrency: 2,
        environmentVariables: { B: '2', ISTIO_META_DNS_CAPTURE: 'true' },
      }),
    },
    {
      concurrency: 2,
      env: { B: '2', ISTIO_META_DNS_CAPTURE: 'true' },
      metadata: { DNS_CAPTURE: 'true', TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig concurrency 2; environment B, ISTIO_META_DNS_CAPTURE (from shop/pc)',
      dropped: [],
    },
  ],
  [
    'concurrency 0 is one worker per CPU',
    { resolved: resolved({ concurrency: 0 }), cpus: 6 },
    {
      concurrency: 6,
      env: {},
      metadata: { TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig concurrency 0 (6 CPUs) (from shop/pc)',
      dropped: [],
    },
  ],
  [
    'environment names listed sorted',
    { resolved: resolved({ environmentVariables: { ZED: '1', ALPHA: '2', MID: '3' } }) },
    {
      concurrency: 1,
      env: { ZED: '1', ALPHA: '2', MID: '3' },
      metadata: { TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig environment ALPHA, MID, ZED (from shop/pc)',
      dropped: [],
    },
  ],
  [
    '--concurrency wins over the ProxyConfig, and says so',
    { resolved: resolved({ concurrency: 4 }), flagConcurrency: 1 },
    {
      concurrency: 1,
      env: {},
      metadata: { TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig concurrency 4 overridden by --concurrency 1 (from shop/pc)',
      dropped: [],
    },
  ],
  [
    '--concurrency equal to the ProxyConfig is no override',
    { resolved: resolved({ concurrency: 3 }), flagConcurrency: 3 },
    {
      concurrency: 3,
      env: {},
      metadata: { TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig concurrency 3 (from shop/pc)',
      dropped: [],
    },
  ],
  [
    "the ProxyConfig's ISTIO_META_ wins over the process's",
    {
      resolved: resolved({ environmentVariables: { ISTIO_META_X: 'pc' } }),
      processEnv: { ISTIO_META_X: 'proc' },
    },
    {
      concurrency: 1,
      env: { ISTIO_META_X: 'pc' },
      metadata: { X: 'pc', TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig environment ISTIO_META_X (from shop/pc)',
      dropped: [],
    },
  ],
  [
    'the flag alone, not asked',
    { flagConcurrency: 2 },
    { concurrency: 2, env: {}, metadata: {}, summary: undefined, dropped: [] },
  ],
  [
    'variables that would change how the process runs are dropped, each with a line (an older control plane may serve them)',
    {
      resolved: resolved({
        environmentVariables: {
          NODE_OPTIONS: '--require /tmp/x.js',
          LD_PRELOAD: '/tmp/x.so',
          https_proxy: 'http://evil:3128',
          ISTIO_META_X: '1',
          TRELLIS_LOG_LEVEL: 'debug',
        },
      }),
    },
    {
      concurrency: 1,
      env: { ISTIO_META_X: '1', TRELLIS_LOG_LEVEL: 'debug' },
      metadata: { X: '1', TRELLIS_PROXY_CONFIG: 'f1' },
      summary: 'ProxyConfig environment ISTIO_META_X, TRELLIS_LOG_LEVEL (from shop/pc)',
      dropped: [
        'ProxyConfig environment variable ignored: LD_PRELOAD: would change how the proxy process runs: the dynamic loader reads LD_* (LD_PRELOAD loads a library into the process); remove it (ISTIO_META_* and other names are allowed)',
        'ProxyConfig environment variable ignored: NODE_OPTIONS: would change how the proxy process runs: Node.js reads NODE_* (NODE_OPTIONS loads code, NODE_EXTRA_CA_CERTS and NODE_TLS_REJECT_UNAUTHORIZED change trust); remove it (ISTIO_META_* and other names are allowed)',
        'ProxyConfig environment variable ignored: https_proxy: would change how the proxy process runs: gRPC sends the xDS stream through the proxy HTTPS_PROXY names; remove it (ISTIO_META_* and other names are allowed)',
      ],
    },
  ],
];

for (const [name, input, want] of ROWS) {
  test(`proxy startup: ${name}`, () => {
    assert.deepEqual(
      proxyStartup({ resolved: undefined, flagConcurrency: undefined, processEnv: {}, cpus: 4, ...input }),
      want,
    );
  });
}
