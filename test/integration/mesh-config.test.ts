/**
 * `--mesh-config FILE`: Istio's MeshConfig YAML, unchanged. pathNormalization is applied; an
 * invalid value stops the command naming the file and field; other fields are named in a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTrellis, startTrellis } from './helpers/process.js';

test('control-plane --mesh-config: applied and reported, or refused with file and field', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-mesh-config-'));
  const config = path.join(dir, 'config');
  await writeFile(path.join(dir, 'bad.yaml'), 'pathNormalization:\n  normalization: SOMETIMES\n');
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    'accessLogFile: /dev/stdout\nenablePrometheusMerge: true\npathNormalization:\n  normalization: MERGE_SLASHES\n',
  );
  await mkdir(config);
  const bad = await runTrellis([
    'control-plane',
    '--config',
    config,
    '--mesh-config',
    path.join(dir, 'bad.yaml'),
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /bad\.yaml: pathNormalization\.normalization: expected one of DEFAULT, NONE, BASE/,
  );
  const cp = startTrellis(
    [
      'control-plane',
      '--config',
      config,
      '--mesh-config',
      path.join(dir, 'mesh.yaml'),
      '--xds-address',
      '127.0.0.1:0',
      '--http-address',
      '127.0.0.1:0',
    ],
    { env: { TRELLIS_LOG_LEVEL: 'info' } },
  );
  try {
    await cp.waitForOutput(/serving xDS on/);
    assert.match(cp.stderr(), /mesh config.*MERGE_SLASHES/);
    // accessLogFile is applied (the Telemetry work); a field Trellis does not use is named.
    assert.match(cp.stderr(), /mesh config telemetry.*accessLogFile=\/dev\/stdout/);
    assert.match(cp.stderr(), /not applied by Trellis.*enablePrometheusMerge/);
  } finally {
    await cp.stop();
  }
});
