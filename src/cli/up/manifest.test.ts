import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadMesh } from './manifest.js';

test('loads DIR/mesh.yaml; the bookinfo example is valid', async () => {
  const plan = await loadMesh('examples/bookinfo', path.resolve(import.meta.dirname, '../../..'));
  assert.equal(plan.name, 'bookinfo');
  assert.equal(plan.workloads.length, 6);
  assert.equal(plan.gateway?.name, 'bookinfo-gateway');
  assert.ok(plan.configDir.endsWith(path.join('examples', 'bookinfo', 'config')));
});

test('an invalid manifest is refused with file:doc: field path: message', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mesh-'));
  try {
    await writeFile(
      path.join(dir, 'mesh.yaml'),
      'apiVersion: trellis.io/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  workloads:\n  - { name: a, service: a, ports: [{ port: 80, protocol: udp }], command: [x] }\n',
    );
    await assert.rejects(loadMesh(dir, dir), (err: Error) => {
      assert.match(
        err.message,
        /mesh\.yaml:1: spec\.workloads\[0\]\.ports\[0\]\.protocol: "udp" is not valid/,
      );
      return true;
    });
    await assert.rejects(loadMesh(path.join(dir, 'nope'), dir), /no such file or directory/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serviceAccount: defaults to the service; a bad one is refused with its field path', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mesh-'));
  const manifest = (extra: string) =>
    `apiVersion: trellis.io/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  workloads:\n  - { name: a, service: svc-a, ports: [{ port: 80, protocol: http }], command: [x] }\n  - { name: b, service: svc-b, namespace: shop, ports: [{ port: 81, protocol: http }], command: [x]${extra} }\n`;
  try {
    await writeFile(path.join(dir, 'mesh.yaml'), manifest(', serviceAccount: payments.runner'));
    const plan = await loadMesh(dir, dir);
    assert.equal(plan.workloads[0]?.serviceAccount, 'svc-a');
    assert.equal(plan.workloads[1]?.serviceAccount, 'payments.runner');

    const bad: [string, RegExp][] = [
      [
        ', serviceAccount: Payments',
        /mesh\.yaml:1: spec\.workloads\[1\]\.serviceAccount: "Payments" is not a valid DNS-1123 subdomain/,
      ],
      [', serviceAccount: "a/b"', /spec\.workloads\[1\]\.serviceAccount: /],
      [', serviceAccount: 5', /spec\.workloads\[1\]\.serviceAccount: expected a string/],
      [', serviceAccount: ""', /spec\.workloads\[1\]\.serviceAccount/],
      [', serviceAcount: x', /spec\.workloads\[1\]\.serviceAcount: unknown field/],
    ];
    for (const [extra, message] of bad) {
      await writeFile(path.join(dir, 'mesh.yaml'), manifest(extra));
      await assert.rejects(loadMesh(dir, dir), (err: Error) => {
        assert.match(err.message, message, extra);
        return true;
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
