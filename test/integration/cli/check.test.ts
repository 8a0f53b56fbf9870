/**
 * `trellis check` as a user runs it: against nothing (exit 1, the hint), and against a
 * `trellis control-plane` process with a real sidecar, first healthy (exit 0), then with a file
 * the control plane rejects (exit 1 naming the file and the field).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { startSidecar } from '../helpers/sidecar.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`;

test('check: an unreachable control plane is exit 1 with what to do', async () => {
  const r = await runTrellis(['check', '--control-plane', 'http://127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /^control plane\n-------------\n× cannot reach the control plane at http:\/\/127\.0\.0\.1:1: .+\n {4}hint: start it with 'trellis up' or 'trellis control-plane'/,
  );
  assert.match(r.stdout, /\nStatus check results are × \(1 problem\)\n$/);
});

test('check: a healthy mesh passes; a rejected file and a proxy NACK fail, naming them', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-check-'));
  await writeFile(path.join(dir, 'service.yaml'), SERVICE);
  // The test sidecar has no workload certificate: plaintext mesh-wide, until the last step.
  await writeFile(
    path.join(dir, 'mtls-off.yaml'),
    'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default, namespace: istio-system }\nspec: { mtls: { mode: DISABLE } }\n',
  );
  const cp = startTrellis([
    'control-plane',
    '--config',
    dir,
    '--xds-address',
    '127.0.0.1:0',
    '--http-address',
    '127.0.0.1:0',
  ]);
  let proxy: TrellisProxy | undefined;
  try {
    const m = await cp.waitForOutput(
      /serving xDS on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    const http = m[2]!;
    proxy = await startSidecar(Number(m[1]), { app: 'productpage' });
    let last = '';
    const healthy = await eventually(
      async () => {
        const r = await runTrellis(['check', '--control-plane', http]);
        last = r.stdout + r.stderr;
        return r.code === 0 && r.stdout.includes('every proxy runs the config') ? r : false;
      },
      { what: 'check passes', timeoutMs: 15_000, context: () => last },
    );
    assert.match(healthy.stdout, /\n√ control plane is ready\n/);
    assert.match(healthy.stdout, /\n√ 1 proxy connected\n/);
    // The test sidecar has no workload certificate: nothing to expire, nothing to warn about.
    assert.doesNotMatch(healthy.stdout, /[×‼]/);
    assert.match(healthy.stdout, /\nStatus check results are √\n$/);

    await writeFile(
      path.join(dir, 'bad.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [reviews]\n  http: [{ route: [{ destination: { host: reviews }, weight: -5 }] }]\n',
    );
    const broken = await eventually(async () => {
      const r = await runTrellis(['check', '--control-plane', http]);
      return r.code === 1 ? r : false;
    }, 'check fails');
    // The file as the control plane names it (relative to its working directory).
    assert.match(
      broken.stdout,
      /\n× \S*trellis-check-\w+\/bad\.yaml:1: spec\.http\[0\]\.route\[0\]\.weight: -5 is out of range/,
    );
    assert.match(broken.stdout, /\n {4}hint: rejected; /);
    const json = await runTrellis(['check', '-o', 'json', '--control-plane', http]);
    assert.equal(json.code, 1);
    const findings = JSON.parse(json.stdout) as { section: string; status: string }[];
    assert.ok(findings.some((f) => f.section === 'config' && f.status === 'fail'));

    // Mesh mTLS back on: the control plane sends clusters that need the sidecar's certificate,
    // which this sidecar does not have, so it NACKs them; check lists the error and the versions.
    await rm(path.join(dir, 'mtls-off.yaml'));
    const nack = await eventually(
      async () => {
        const r = await runTrellis(['check', '--control-plane', http]);
        last = r.stdout;
        return r.stdout.includes('rejected CDS') ? r : false;
      },
      { what: 'NACK reported', timeoutMs: 15_000, context: () => last },
    );
    assert.equal(nack.code, 1);
    assert.match(
      nack.stdout,
      /\n× productpage-1\.default rejected CDS version \S+ \(runs version \S+\): .*secret "default" comes from sds-grpc, but this proxy has no workload certificate source.*\n {4}hint: fix the config the error names; 'trellis proxy-status productpage-1\.default' shows the versions\n/,
    );
  } finally {
    await proxy?.stop(0);
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
