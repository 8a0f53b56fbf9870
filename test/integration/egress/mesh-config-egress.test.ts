/**
 * `--mesh-config` with Istio's outboundTrafficPolicy, as a user runs it: the mode is applied and
 * printed; a wrong one stops the command naming the file, the field and the values it takes.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runTrellis, startTrellis } from '../helpers/process.js';

test('control-plane --mesh-config: outboundTrafficPolicy is applied and reported, or refused with file and field', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-egress-mesh-'));
  const config = path.join(dir, 'config');
  await mkdir(config);
  await writeFile(path.join(dir, 'bad.yaml'), 'outboundTrafficPolicy:\n  mode: BLOCK\n');
  await writeFile(path.join(dir, 'mesh.yaml'), 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n');
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
    /bad\.yaml: outboundTrafficPolicy\.mode: expected ALLOW_ANY or REGISTRY_ONLY, got "BLOCK"/,
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
    assert.match(cp.stderr(), /mesh config.*REGISTRY_ONLY/);
    // Applied, so not among the fields Trellis ignores.
    assert.doesNotMatch(cp.stderr(), /not applied by Trellis.*outboundTrafficPolicy/);
  } finally {
    await cp.stop();
  }
});
