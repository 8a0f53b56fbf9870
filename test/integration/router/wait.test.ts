/**
 * `trellis wait` and `trellis apply --wait`, run as a user runs them, against a real control
 * plane with a real Trellis sidecar and ADS clients that ACK, NACK or hold: exit 0 once every
 * proxy runs the change; at the timeout exit 1 naming each lagging proxy and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar } from '../helpers/sidecar.js';
import { connectControllable } from './controllable-client.js';

const HOST = 'reviews.default.svc.cluster.local';
const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, ports: { http: 9 }, labels: { version: v1 } }
  - { address: 127.0.0.2, ports: { http: 9 }, labels: { version: v2 } }
`;
const rule = (subsets: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${HOST}
  subsets:
${subsets.map((s) => `  - { name: ${s}, labels: { version: ${s} } }`).join('\n')}
`;

test('trellis wait: in effect once every proxy ACKs; a NACK, a held proxy and a disconnected one are named', async () => {
  const mesh = await startMesh();
  mesh.apply(SERVICE);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-wait-'));
  const sidecar = await startSidecar(mesh.xdsPort, { app: 'productpage' });
  const refusing = connectControllable(mesh.xdsPort, {
    id: 'sidecar~10.9.0.7~ratings-v1.default~default.svc.cluster.local',
    metadata: { NAMESPACE: 'default', WORKLOAD_NAME: 'ratings-v1' },
  });
  const held = connectControllable(mesh.xdsPort, {
    id: 'sidecar~10.9.0.8~details-v1.default~default.svc.cluster.local',
  });
  const cp = ['--control-plane', mesh.httpUrl];
  try {
    await eventually(
      () => mesh.cp.storeConvergence().inEffect && mesh.cp.proxyStatus().length === 3,
      'three proxies in sync',
    );

    // Every proxy takes it: apply --wait and wait both exit 0.
    await fs.writeFile(path.join(dir, 'v1.yaml'), rule(['v1']));
    const applied = await runTrellis(['apply', '-f', path.join(dir, 'v1.yaml'), '--wait', ...cp]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /destinationrule\.networking\.istio\.io\/reviews created/);
    assert.match(applied.stdout, /the change in effect on 3 proxies \(store revision \d+\)/);
    const waited = await runTrellis(['wait', 'dr', 'reviews', ...cp]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /destinationrule\/reviews in namespace default in effect on 3 proxies/);
    // The config generation each proxy runs, in syncz.
    const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as { configRevision: number }[];
    assert.ok(
      rows.every((r) => r.configRevision >= mesh.store.revision),
      JSON.stringify(rows),
    );
    const status = await runTrellis(['proxy-status', 'ratings-v1', ...cp]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /VERSION\s+CONFIG REVISION\n/);
    assert.match(status.stdout, new RegExp(`\\s${mesh.store.revision}\\n`), status.stdout);

    // A deletion is waited for like any change.
    const deleted = await runTrellis(['delete', 'dr', 'reviews', ...cp]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const waitedDeletion = await runTrellis(['wait', 'dr', 'reviews', ...cp]);
    assert.equal(waitedDeletion.code, 0, waitedDeletion.stderr);
    assert.match(
      waitedDeletion.stdout,
      /destinationrule\/reviews \(deleted\) in namespace default in effect/,
    );

    // One proxy rejects clusters, another stops answering: a new subset is not in effect.
    refusing.answer('CDS', { nack: 'cluster outbound|9080|v2|reviews: unsupported field' });
    held.answer('CDS', 'hold');
    mesh.apply(rule(['v1', 'v2']));
    const revision = mesh.store.revision;
    const timedOut = await runTrellis(['wait', 'destinationrules', 'reviews', '--timeout', '500ms', ...cp]);
    assert.equal(timedOut.code, 1, timedOut.stdout);
    assert.match(
      timedOut.stderr,
      /destinationrule\/reviews in namespace default is not in effect after 500ms/,
    );
    assert.match(timedOut.stderr, /2 of 3 proxies lag:/);
    assert.match(timedOut.stderr, /details-v1\.default: pending: CDS not ACKed at revision \d+/);
    assert.match(
      timedOut.stderr,
      /ratings-v1\.default: nack: rejected CDS: cluster outbound\|9080\|v2\|reviews: unsupported field/,
    );
    assert.doesNotMatch(timedOut.stderr, /productpage/, 'the sidecar took it');
    assert.match(timedOut.stderr, /trellis proxy-status NAME/, 'says what to do');

    // The held proxy catches up; the refusing one leaves and stays away: named as disconnected.
    held.release();
    refusing.close();
    await eventually(() => {
      const r = mesh.cp.storeConvergence(revision);
      assert.deepEqual(
        r.lagging.map((l) => [l.name, l.reason]),
        [['ratings-v1.default', 'disconnected']],
      );
    }, 'only the disconnected proxy lags');
    const gone = await runTrellis([
      'wait',
      'dr',
      'reviews',
      '--for-revision',
      String(revision),
      '--timeout',
      '300ms',
      ...cp,
    ]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ratings-v1\.default: disconnected: disconnected at .* and has not come back/);
  } finally {
    refusing.close();
    held.close();
    await sidecar.stop(0);
    await mesh.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('trellis wait: usage errors say what was expected', async () => {
  const bad = await runTrellis(['wait', 'vs']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /expected KIND NAME/);
  const timeout = await runTrellis(['wait', 'vs', 'x', '--timeout', 'soon']);
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /--timeout "soon": expected a positive duration/);
  const rev = await runTrellis(['wait', 'vs', 'x', '--for-revision', '-1']);
  assert.equal(rev.code, 2);
});
