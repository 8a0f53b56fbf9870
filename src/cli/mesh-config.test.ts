import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TrellisError } from '../core/errors.js';
import { memoryLogger } from '../core/logger.js';
import { loadMeshConfig } from './mesh-config.js';

async function withFile(text: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-mesh-'));
  try {
    await writeFile(path.join(dir, 'mesh.yaml'), text);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('--mesh-config: extensionProviders for CUSTOM authorization are read and applied', async () => {
  await withFile(
    `pathNormalization: { normalization: MERGE_SLASHES }
extensionProviders:
- name: opa
  envoyExtAuthzGrpc: { service: opa.opa.svc.cluster.local, port: 9191 }
enablePrometheusMerge: true
`,
    async (dir) => {
      const { logger, lines } = memoryLogger('config');
      const mesh = await loadMeshConfig('mesh.yaml', dir, logger);
      assert.equal(mesh.pathNormalization, 'MERGE_SLASHES');
      assert.deepEqual(mesh.extensionProviders, [
        { name: 'opa', kind: 'grpc', grpc: { service: 'opa.opa.svc.cluster.local', port: 9191 } },
      ]);
      assert.deepEqual(mesh.ignoredFields, ['enablePrometheusMerge']);
      assert.ok(
        lines.some((l) => l.includes('opa')),
        lines.join('\n'),
      );
    },
  );
});

test('--mesh-config: a bad extension provider is refused with file and field path', async () => {
  await withFile(
    `extensionProviders: [{ name: opa, envoyExtAuthzGrpc: { service: opa, port: 0 } }]\n`,
    async (dir) => {
      const err = await loadMeshConfig('mesh.yaml', dir, memoryLogger().logger).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof TrellisError);
      assert.equal(err.file, 'mesh.yaml');
      assert.equal(err.path, 'extensionProviders[0].envoyExtAuthzGrpc.port');
    },
  );
});

test('no --mesh-config: no providers', async () => {
  assert.deepEqual((await loadMeshConfig(undefined, '/', memoryLogger().logger)).extensionProviders, []);
});
