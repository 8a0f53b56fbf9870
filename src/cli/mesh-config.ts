/** Reads `--mesh-config FILE` for `trellis control-plane` and `trellis up`. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_MESH_CONFIG, parseMeshConfig, type MeshConfig } from '../api/mesh-config.js';
import { TrellisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export async function loadMeshConfig(
  file: string | undefined,
  cwd: string,
  logger: Logger,
): Promise<MeshConfig> {
  if (file === undefined) return DEFAULT_MESH_CONFIG;
  const full = path.resolve(cwd, file);
  const text = await readFile(full, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--mesh-config ${file}: ${err.code ?? err.message}`);
  });
  const mesh = parseMeshConfig(text, file);
  logger.info('mesh config', { file, pathNormalization: mesh.pathNormalization });
  if (mesh.ignoredFields.length > 0)
    logger.warn('mesh config fields not applied by Trellis', { file, fields: mesh.ignoredFields.join(', ') });
  return mesh;
}
