/**
 * `trellis control-plane` and `trellis proxy-status` as a user runs them: a directory of Istio
 * YAML, edits while it runs, a bad edit rejected with file:doc: path while the last good config
 * keeps serving, a proxy's sync state, and a clean shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { adsService } from '../../src/protocol/grpc-services.js';
import { TYPE } from '../../src/protocol/protos.js';
import { runTrellis, startTrellis } from './helpers/process.js';
import { eventually } from '../../src/core/testing/eventually.js';

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, labels: { version: v1 } }]
`;

const vs = (weight: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews }
      weight: ${weight}
`;

test('control-plane serves a watched directory, rejects a bad edit, and reports proxy status', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-cp-'));
  await writeFile(path.join(dir, 'service.yaml'), SERVICE);
  await writeFile(path.join(dir, 'reviews.yaml'), vs(100));
  const cp = startTrellis([
    'control-plane',
    '--config',
    dir,
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ]);
  let client: grpc.Client | undefined;
  try {
    const m = await cp.waitForOutput(
      /serving xDS on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    const xdsPort = Number(m[1]);
    const http = m[2]!;
    assert.equal((await fetch(`${http}/ready`)).status, 200);

    // A proxy connects and ACKs CDS: proxy-status says SYNCED.
    const Ads = grpc.makeGenericClientConstructor(adsService(), 'ADS');
    client = new Ads(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    const stream = (
      client as unknown as {
        StreamAggregatedResources(): grpc.ClientDuplexStream<object, { nonce: string; version_info: string }>;
      }
    ).StreamAggregatedResources();
    const node = { id: 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local' };
    stream.on('data', (r: { nonce: string; version_info: string }) => {
      stream.write({ node, type_url: TYPE.cluster, version_info: r.version_info, response_nonce: r.nonce });
    });
    stream.on('error', () => undefined);
    stream.write({ node, type_url: TYPE.cluster });
    const status = await eventually(async () => {
      const r = await runTrellis(['proxy-status', '--control-plane', http]);
      return /productpage-v1\.default.*SYNCED/.test(r.stdout) ? r : false;
    }, 'proxy-status SYNCED');
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^NAME\s+TYPE\s+CDS\s+LDS\s+EDS\s+RDS\s+SDS\s+VERSION/m);

    // An invalid edit: rejected with file:doc: path, last good config kept.
    await writeFile(path.join(dir, 'reviews.yaml'), vs(100).replace('weight: 100', 'weight: -5'));
    const errors = await eventually(async () => {
      const e = (await (await fetch(`${http}/debug/config_errors`)).json()) as {
        source: { file: string; doc: number };
        problems: { path: string; message: string }[];
      }[];
      return e.length ? e : false;
    }, 'config error exposed');
    assert.match(errors[0]!.source.file, /reviews\.yaml$/);
    assert.equal(errors[0]!.source.doc, 1);
    assert.match(errors[0]!.problems[0]!.path, /^spec\.http\[0\]\.route\[0\]\.weight$/);
    await cp.waitForOutput(/reviews\.yaml:1: spec\.http\[0\]\.route\[0\]\.weight/);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    assert.match(metrics, /^trellis_config_errors 1$/m);
    const dump = (await (
      await fetch(`${http}/debug/config_dump?proxy=${encodeURIComponent(node.id)}`)
    ).json()) as { configs: { dynamic_active_clusters?: { name: string }[] }[] };
    assert.ok(
      dump.configs[0]?.dynamic_active_clusters?.some(
        (c) => c.name === 'outbound|9080||reviews.default.svc.cluster.local',
      ),
    );

    // Fixing the file clears the error.
    await writeFile(path.join(dir, 'reviews.yaml'), vs(100));
    await eventually(
      async () => ((await (await fetch(`${http}/debug/config_errors`)).json()) as unknown[]).length === 0,
      'error cleared',
    );
    stream.end();
  } finally {
    client?.close();
    const code = await cp.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, cp.stderr());
  }
});

test('control-plane explains bad usage', async () => {
  const r = await runTrellis(['control-plane']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--config DIR is required/);
  const missing = await runTrellis(['control-plane', '--config', '/nonexistent/trellis']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /not a directory/);
  const down = await runTrellis(['proxy-status', '--control-plane', 'http://127.0.0.1:1']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach the control plane/);
});
