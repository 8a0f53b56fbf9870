/** Reads `--mesh-config FILE` for `trellis control-plane` and `trellis up`. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_MESH_CONFIG, parseMeshConfig, type MeshConfig } from '../api/mesh-config.js';
import { parseExtensionProviders, type AuthzExtensionProvider } from '../api/security/extension-providers.js';
import { Problems, TrellisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** The mesh config plus its `extensionProviders` for CUSTOM authorization (ext_authz). */
export type LoadedMeshConfig = MeshConfig & { extensionProviders: readonly AuthzExtensionProvider[] };

export async function loadMeshConfig(
  file: string | undefined,
  cwd: string,
  logger: Logger,
): Promise<LoadedMeshConfig> {
  if (file === undefined) return { ...DEFAULT_MESH_CONFIG, extensionProviders: [] };
  const full = path.resolve(cwd, file);
  const text = await readFile(full, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--mesh-config ${file}: ${err.code ?? err.message}`);
  });
  const mesh = parseMeshConfig(text, file);
  const extensionProviders = readExtensionProviders(text, file);
  const ignored = mesh.ignoredFields.filter((f) => f !== 'extensionProviders');
  logger.info('mesh config', {
    file,
    pathNormalization: mesh.pathNormalization,
    outboundTrafficPolicy: mesh.outboundTrafficPolicy,
    ...(extensionProviders.length > 0
      ? { extAuthzProviders: extensionProviders.map((p) => p.name).join(', ') }
      : {}),
  });
  const t = mesh.telemetry;
  const telemetryProviders = t.providers.filter((p) => p.name !== 'envoy' && p.name !== 'prometheus');
  if (telemetryProviders.length > 0 || t.defaultProviders.tracing.length > 0 || t.accessLogFile !== '')
    logger.info('mesh config telemetry', {
      file,
      providers: telemetryProviders.map((p) => `${p.name} (${p.kind})`).join(', '),
      defaultTracing: t.defaultProviders.tracing.join(', '),
      defaultAccessLogging: t.defaultProviders.accessLogging.join(', '),
      ...(t.accessLogFile !== '' ? { accessLogFile: t.accessLogFile } : {}),
    });
  for (const w of mesh.warnings) logger.warn('mesh config', { file, field: w });
  if (ignored.length > 0)
    logger.warn('mesh config fields not applied by Trellis', { file, fields: ignored.join(', ') });
  return { ...mesh, ignoredFields: ignored, extensionProviders };
}

/** `extensionProviders` of a mesh config file (parseMeshConfig has checked it is YAML). */
function readExtensionProviders(text: string, file: string): AuthzExtensionProvider[] {
  const root = (parse(text) ?? {}) as Record<string, unknown>;
  const problems = new Problems();
  const providers = parseExtensionProviders(root.extensionProviders, problems);
  const first = problems.errors[0];
  if (first !== undefined)
    throw new TrellisError('TRELLIS_INVALID_CONFIG', first.message, { file, path: first.path });
  return providers;
}
