/**
 * `trellis proxy-config` as a user runs it: the real binary against a control plane started
 * here, with an Envoy-like ADS client connected as productpage's sidecar. Table rendering is
 * tested in detail in ../proxy-config-tables.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import type { CommandIo } from '../../../src/cli/command.js';
import { command } from '../../../src/cli/commands/proxy-config.js';

const NODE = 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local';

test('proxy-config clusters and routes PROXY read what the control plane sent, naming DR and VS', async () => {
  const mesh = await startMesh();
  mesh.apply(
    await readFile(path.join(import.meta.dirname, '../../../src/cli/testdata/bookinfo-mesh.yaml'), 'utf8'),
  );
  const client = connectEnvoyLike(mesh.xdsPort, {
    id: NODE,
    metadata: { NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' } },
  });
  try {
    await eventually(
      () => client.received.some((r) => r.type === 'RDS' && r.names.includes('9080')),
      'routes pushed',
    );
    const clusters = await runTrellis(['proxy-config', 'clusters', NODE, '--control-plane', mesh.httpUrl]);
    assert.equal(clusters.code, 0, clusters.stderr);
    assert.match(clusters.stdout, /^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE\n/);
    assert.match(
      clusters.stdout,
      /\nreviews\.default\.svc\.cluster\.local\s+9080\s+v2\s+outbound\s+EDS\s+reviews\.default\n/,
    );

    const routes = await runTrellis(['proxy-config', 'route', NODE, '--control-plane', mesh.httpUrl]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(
      routes.stdout,
      /\n9080\s+reviews\.default\.svc\.cluster\.local:9080\s+.*\/\* \[end-user=jason\]\s+reviews:9080\|v2\s+retries 2\s+reviews\.default\n/,
    );

    // Secrets from the control plane: what it sent (none here), and where the proxy's own are.
    const secrets = await runTrellis(['proxy-config', 'secret', NODE, '--control-plane', mesh.httpUrl]);
    assert.equal(secrets.code, 0, secrets.stderr);
    assert.equal(
      secrets.stdout,
      'RESOURCE NAME   TYPE   STATUS   VALID CERT   SERIAL NUMBER   NOT AFTER   NOT BEFORE   IDENTITY\n',
    );
    assert.match(secrets.stderr, /made in the proxy; use --admin URL to see them/);

    const unknown = await runTrellis([
      'proxy-config',
      'listeners',
      'nobody',
      '--control-plane',
      mesh.httpUrl,
    ]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /no connected proxy "nobody"; name a proxy by its workload name, NAME\.NAMESPACE or a prefix of its id\. Connected:\n {2}productpage-v1\.default\s+sidecar~127\.0\.0\.1~productpage-v1/,
    );
  } finally {
    client.close();
    await mesh.stop();
  }
});

test('proxy-config: usage errors and an unreachable admin endpoint say what to do', async () => {
  const io: CommandIo = { stdout: () => undefined, stderr: () => undefined, env: {}, cwd: process.cwd() };
  await assert.rejects(
    command.run(['certificates', 'x'], io),
    /expected one of clusters, listeners, routes, endpoints, secrets/,
  );
  await assert.rejects(command.run(['clusters'], io), /expected clusters PROXY .* or clusters --admin URL/);
  await assert.rejects(
    command.run(['clusters', '--admin', '127.0.0.1:9'], io),
    /cannot reach the proxy's admin endpoint at http:\/\/127\.0\.0\.1:9\/config_dump .*check --admin/,
  );
});
