import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectedProxy } from './connected-proxies.js';
import { evaluateChecks, renderChecks, type CheckInput } from './mesh-check.js';

const proxy = (name: string, types: ConnectedProxy['types']): ConnectedProxy => ({
  proxy: `sidecar~10.0.0.1~${name}.default~default.svc.cluster.local`,
  type: 'sidecar',
  namespace: 'default',
  workloadName: name,
  mode: 'sotw',
  types,
});
const synced = { status: 'SYNCED', lastSentVersion: '5', lastAckedVersion: '5' };
const NOW = Date.parse('2026-12-07T12:00:00Z');

const base: CheckInput = {
  controlPlane: 'http://127.0.0.1:15014',
  reachable: { ok: true, ready: true, version: '0.1.0' },
  clientVersion: '0.1.0',
  proxies: [proxy('productpage-v1', { CDS: synced, LDS: synced })],
  certificates: [
    {
      proxy: 'productpage-v1.default',
      secret: 'default',
      subject: 'spiffe://cluster.local/ns/default/sa/pp',
      notAfterMs: NOW + 12 * 3600_000 * 4,
    },
  ],
  unreadable: [],
  configProblems: [],
  nowMs: NOW,
};

const statuses = (i: CheckInput) => evaluateChecks(i).map((f) => `${f.status} ${f.message}`);

test('a healthy mesh: every check passes', () => {
  const text = renderChecks(evaluateChecks(base));
  assert.equal(
    text,
    [
      'control plane',
      '-------------',
      '√ control plane is reachable at http://127.0.0.1:15014',
      '√ control plane is ready',
      '',
      'proxies',
      '-------',
      '√ 1 proxy connected',
      '√ every proxy runs the config it was last sent',
      '',
      'certificates',
      '------------',
      '√ 1 certificate valid for more than 24h',
      '',
      'config',
      '------',
      '√ no config errors or warnings',
      '',
      'Status check results are √',
      '',
    ].join('\n'),
  );
});

test('an unreachable control plane is one failure with the hint, nothing else checked', () => {
  const f = evaluateChecks({
    ...base,
    reachable: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:15014' },
  });
  assert.equal(f.length, 1);
  assert.equal(f[0]?.status, 'fail');
  assert.match(f[0]?.hint ?? '', /--control-plane URL or \$TRELLIS_CONTROL_PLANE/);
  assert.match(renderChecks(f), /Status check results are × \(1 problem\)\n$/);
});

test('NACKs, stale pushes, certificates near or past expiry, rejected config and warnings', () => {
  const input: CheckInput = {
    ...base,
    reachable: { ok: true, ready: false, version: '0.0.9' },
    proxies: [
      proxy('reviews-v1', {
        CDS: synced,
        LDS: {
          status: 'NACK',
          lastSentVersion: '7',
          lastAckedVersion: '6',
          lastNack: { version: '7', message: 'listener 0.0.0.0_9080: unsupported filter x' },
        },
      }),
      proxy('ratings-v1', { CDS: { status: 'STALE', lastSentVersion: '7', lastAckedVersion: '6' } }),
    ],
    certificates: [
      { proxy: 'reviews-v1.default', secret: 'default', subject: 'spiffe://a', notAfterMs: NOW - 3600_000 },
      { proxy: 'ratings-v1.default', secret: 'ROOTCA', subject: 'CN=root', notAfterMs: NOW + 2 * 3600_000 },
    ],
    unreadable: [{ proxy: 'details-v1.default', error: 'it did not report its admin address' }],
    configProblems: [
      {
        source: { file: '/cfg/reviews.yaml', doc: 2 },
        problems: [{ severity: 'error', path: 'spec.http[0].route[0].weight', message: 'must be >= 0' }],
        servingLastGood: true,
      },
      {
        source: { kind: 'VirtualService', namespace: 'default', name: 'reviews', file: '/cfg/vs.yaml' },
        problems: [
          { severity: 'warning', path: 'spec.http[0]', message: '[IST0101] Referenced host not found' },
        ],
      },
    ],
  };
  assert.deepEqual(statuses(input), [
    'ok control plane is reachable at http://127.0.0.1:15014',
    'fail control plane is not ready (its /ready answers 503)',
    "warn control plane version 0.0.9 differs from this client's 0.1.0",
    'ok 2 proxies connected',
    'warn ratings-v1.default has not yet acknowledged CDS',
    'fail reviews-v1.default rejected LDS version 7 (runs version 6): listener 0.0.0.0_9080: unsupported filter x',
    'fail reviews-v1.default default (spiffe://a) expired 60m ago',
    'warn ratings-v1.default ROOTCA (CN=root) expires in 120m',
    "warn cannot read details-v1.default's certificates: it did not report its admin address",
    'fail /cfg/reviews.yaml:2: spec.http[0].route[0].weight: must be >= 0',
    'warn VirtualService default/reviews (/cfg/vs.yaml): spec.http[0]: [IST0101] Referenced host not found',
  ]);
  const text = renderChecks(evaluateChecks(input));
  assert.match(
    text,
    /× \/cfg\/reviews\.yaml:2: .*\n {4}hint: rejected; the last good version of this file keeps serving until it is fixed\n/,
  );
  assert.match(
    text,
    /× reviews-v1\.default rejected LDS .*\n {4}hint: fix the config the error names; 'trellis proxy-status reviews-v1\.default' shows the versions\n/,
  );
  assert.match(text, /Status check results are × \(4 problems, 5 warnings\)\n$/);
});

test('no proxies is a warning, not a failure', () => {
  const f = evaluateChecks({ ...base, proxies: [], certificates: [] });
  assert.deepEqual(
    f.filter((x) => x.section === 'proxies').map((x) => [x.status, x.message]),
    [['warn', 'no proxies are connected']],
  );
  assert.match(renderChecks(f), /Status check results are √ \(1 warning\)\n$/);
});
