/**
 * `trellis get vs NAME --effective` and `trellis get trafficfilters`, run as a user runs them,
 * against a real control plane holding a frame, the platform's and a team's filters, and two
 * filters that conflict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';

const CONFIG = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews]
  http:
  - name: primary
    route: [{ destination: { host: reviews } }]
---
apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: platform-retries, namespace: shop }
spec:
  target: { host: reviews }
  owner: platform
  retries: { attempts: 3, retryOn: 5xx }
---
apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: team-timeout, namespace: shop }
spec:
  target: { host: reviews, route: primary }
  owner: reviews-team
  priority: 10
  timeout: 2s
---
apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: mirror-a, namespace: shop }
spec:
  target: { host: reviews }
  owner: team-a
  priority: 5
  mirror: { host: shadow-a }
---
apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: mirror-b, namespace: shop }
spec:
  target: { host: reviews }
  owner: team-b
  priority: 5
  mirror: { host: shadow-b }
`;

test('get vs --effective shows who set each field and the conflicts; get trafficfilters lists them', async (t) => {
  const mesh = await startMesh();
  t.after(() => mesh.stop());
  mesh.apply(CONFIG);
  const cp = ['--control-plane', mesh.httpUrl];

  const vs = await runTrellis(['get', 'vs', 'reviews', '-n', 'shop', '--effective', ...cp]);
  assert.equal(vs.code, 0, vs.stderr);
  assert.match(vs.stdout, /^# VirtualService shop\/reviews as served\.$/m);
  assert.match(
    vs.stdout,
    /^# conflict at spec\.http\[0\]\.mirror \(priority 5\): shop\/mirror-a and shop\/mirror-b set different values, so neither applies$/m,
  );
  assert.match(vs.stdout, /^ +attempts: 3 # shop\/platform-retries \(owner platform, priority 0\)$/m);
  assert.match(vs.stdout, /^ +retryOn: 5xx # shop\/platform-retries \(owner platform, priority 0\)$/m);
  assert.match(vs.stdout, /^ +timeout: 2s # shop\/team-timeout \(owner reviews-team, priority 10\)$/m);
  assert.doesNotMatch(vs.stdout, /mirror:|shadow-/, 'neither conflicting mirror is served');
  assert.doesNotMatch(vs.stdout, /traffic-filter-provenance|status:/);

  const json = await runTrellis(['get', 'vs', 'reviews', '-n', 'shop', '--effective', '-o', 'json', ...cp]);
  assert.equal(json.code, 0, json.stderr);
  const answer = JSON.parse(json.stdout) as { status: { provenance: Record<string, { filter: string }> } };
  assert.deepEqual(
    Object.fromEntries(Object.entries(answer.status.provenance).map(([k, v]) => [k, v.filter])),
    {
      'spec.http[0].retries.attempts': 'shop/platform-retries',
      'spec.http[0].retries.retryOn': 'shop/platform-retries',
      'spec.http[0].timeout': 'shop/team-timeout',
    },
  );

  const written = await runTrellis(['get', 'vs', 'reviews', '-n', 'shop', '-o', 'yaml', ...cp]);
  assert.doesNotMatch(written.stdout, /retries|timeout/, 'without --effective: as written');

  const filters = await runTrellis(['get', 'trafficfilters', '-n', 'shop', ...cp]);
  assert.equal(filters.code, 0, filters.stderr);
  const lines = filters.stdout.split('\n');
  assert.match(lines[0] ?? '', /^NAME +OWNER +PRIORITY +TARGET +FEATURE +CONFLICTS +AGE$/);
  const row = (name: string) => (lines.find((l) => l.startsWith(`${name} `)) ?? '').split(/ {3,}/);
  assert.deepEqual(row('platform-retries').slice(0, 6), [
    'platform-retries',
    'platform',
    '0',
    'reviews',
    'retries',
    '-',
  ]);
  assert.deepEqual(row('team-timeout').slice(0, 6), [
    'team-timeout',
    'reviews-team',
    '10',
    'reviews route=primary',
    'timeout',
    '-',
  ]);
  assert.deepEqual(row('mirror-a').slice(0, 6), [
    'mirror-a',
    'team-a',
    '5',
    'reviews',
    'mirror',
    'shop/mirror-b (spec.mirror)',
  ]);
  assert.match(
    filters.stdout,
    /^error: shop\/mirror-b: spec\.mirror: conflicts with TrafficFilter shop\/mirror-a \(owner team-a\) at the same priority 5: both set VirtualService shop\/reviews spec\.http\[0\]\.mirror .*give one of them another priority$/m,
  );
});

test('apply refuses a bad filter with the file, the field path and the reason; the last good one stays', async (t) => {
  const mesh = await startMesh();
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-tf-'));
  t.after(async () => {
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
  });
  mesh.apply(CONFIG);
  const file = path.join(dir, 'retries.yaml');
  await writeFile(
    file,
    `apiVersion: trellis.io/v1alpha1
kind: TrafficFilter
metadata: { name: platform-retries, namespace: shop }
spec:
  target: { host: reviews }
  owner: platform
  retries: { attempts: many }
  timeout: 1s
`,
  );
  const bad = await runTrellis(['apply', '-f', file, '--control-plane', mesh.httpUrl]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /spec\.retries\.attempts: expected a whole number, got the string "many"/);
  assert.match(
    bad.stderr,
    /a TrafficFilter patches exactly one feature, found retries, timeout: write one TrafficFilter per feature/,
  );
  const kept = (await (await fetch(`${mesh.httpUrl}/v1/config/vs/shop/reviews?effective=true`)).json()) as {
    spec: { http: { retries?: unknown }[] };
  };
  assert.deepEqual(
    kept.spec.http[0]?.retries,
    { attempts: 3, retryOn: '5xx' },
    'the last good filter still applies',
  );
});
