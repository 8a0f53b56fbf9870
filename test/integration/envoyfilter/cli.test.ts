/**
 * EnvoyFilters through the CLI as a user runs it (processes, exit codes, printed text):
 * `trellis get envoyfilters` lists what the control plane serves, `trellis analyze` reports a
 * patch whose value is not its Envoy message at its field path, and the control plane lists the
 * same patch with its config problems while applying the filter's other patches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';

const GOOD = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: locallimit-sm-verify-page, namespace: sm-verify }
spec:
  workloadSelector: { labels: { app: sm-verify-page, branch: master } }
  configPatches:
  - applyTo: HTTP_ROUTE
    match: { context: SIDECAR_INBOUND, routeConfiguration: { vhost: { route: {} } } }
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: inbound
            token_bucket: { max_tokens: 1000, tokens_per_fill: 1000, fill_interval: 1s }
`;

const BAD = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: timeouts, namespace: sm-verify }
spec:
  configPatches:
  - applyTo: CLUSTER
    match: { context: SIDECAR_OUTBOUND }
    patch: { operation: MERGE, value: { connect_timeout: 2s } }
  - applyTo: CLUSTER
    match: { context: SIDECAR_OUTBOUND }
    patch: { operation: MERGE, value: { conect_timeout: 2s } }
`;

test('trellis analyze: a valid EnvoyFilter passes with Istio’s warning; a patch that is not its message is an error at its path', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-ef-'));
  try {
    await writeFile(path.join(dir, 'good.yaml'), GOOD);
    const good = await runTrellis(['analyze', path.join(dir, 'good.yaml')]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /warning: spec: EnvoyFilter exposes internal implementation details/);
    // Alone, the filter configures a filter nothing puts in the chain.
    assert.match(
      good.stdout,
      /warning: spec\.configPatches\[0\]\.patch\.value\.typed_per_filter_config\.envoy\.filters\.http\.local_ratelimit: no EnvoyFilter here puts the HTTP filter envoy\.filters\.http\.local_ratelimit in the chain/,
    );
    await writeFile(path.join(dir, 'bad.yaml'), BAD);
    const bad = await runTrellis(['analyze', path.join(dir, 'bad.yaml')]);
    assert.notEqual(bad.code, 0, bad.stdout);
    assert.match(
      bad.stdout,
      /bad\.yaml:1: spec\.configPatches\[1\]\.patch\.value\.conect_timeout: unknown field \(did you mean connect_timeout\?\); this patch is skipped/,
    );
    assert.doesNotMatch(bad.stdout, /configPatches\[0\]/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('trellis get envoyfilters lists them; the control plane reports an undecodable patch with its config problems', async () => {
  const mesh = await startMesh();
  try {
    mesh.apply(GOOD);
    mesh.apply(BAD);
    const cp = ['--control-plane', mesh.httpUrl];
    const table = await runTrellis(['get', 'envoyfilters', '-n', 'sm-verify', ...cp]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /locallimit-sm-verify-page/);
    assert.match(table.stdout, /timeouts/);
    const yaml = await runTrellis([
      'get',
      'envoyfilter',
      'locallimit-sm-verify-page',
      '-n',
      'sm-verify',
      '-o',
      'yaml',
      ...cp,
    ]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /kind: EnvoyFilter/);
    assert.match(yaml.stdout, /applyTo: HTTP_ROUTE/);
    await eventually(async () => {
      const body = await (await fetch(`${mesh.httpUrl}/debug/config_errors`)).text();
      return body.includes('conect_timeout') && body.includes('timeouts');
    }, 'the control plane lists the skipped patch');
    const check = await runTrellis(['check', ...cp]);
    assert.match(check.stdout, /× EnvoyFilter sm-verify\/timeouts: spec\.configPatches\[1\]/);
    assert.match(check.stdout + check.stderr, /spec\.configPatches\[1\]\.patch\.value\.conect_timeout/);
  } finally {
    await mesh.stop();
  }
});
