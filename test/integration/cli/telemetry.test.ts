/**
 * The Telemetry kind and the --otlp flag as a user meets them, run as processes: `trellis get
 * telemetry` lists Telemetry resources, an invalid one is refused by `trellis apply` with its field
 * path, and `trellis up --otlp` refuses a URL it cannot use (exit 2) saying what to write instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';

test('trellis get telemetry lists them; apply refuses an invalid one with its field path', async () => {
  const mesh = await startMesh();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-telemetry-'));
  try {
    mesh.apply(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: reviews-logs, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  accessLogging: [{ providers: [{ name: envoy }], filter: { expression: 'response.code >= 400' } }]
`);
    const cp = ['--control-plane', mesh.httpUrl];
    const listed = await runTrellis(['get', 'telemetry', ...cp]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NAME\s+AGE\nreviews-logs\s+\S+\n$/);
    const plural = await runTrellis(['get', 'telemetries', '-o', 'yaml', ...cp]);
    assert.equal(plural.code, 0, plural.stderr);
    assert.match(plural.stdout, /expression: response\.code >= 400/);

    const bad = path.join(dir, 'bad.yaml');
    await writeFile(
      bad,
      `apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: { name: broken, namespace: default }
spec:
  tracing: [{ randomSamplingPercentage: 150 }]
`,
    );
    const applied = await runTrellis(['apply', '-f', bad, ...cp]);
    assert.notEqual(applied.code, 0);
    assert.match(
      applied.stdout + applied.stderr,
      /spec\.tracing\[0\]\.randomSamplingPercentage: 150 is out of range; expected 0\.\.100/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
    await mesh.stop();
  }
});

test('trellis up --otlp refuses a URL it cannot use, with exit 2 and what to write', async () => {
  const r = await runTrellis(['up', '--otlp', 'https://collector:4318/v1/traces']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /--otlp: TLS to the collector is not supported; use http:\/\/collector:4318\/v1\/traces or grpc:\/\/collector:4318/,
  );
});
