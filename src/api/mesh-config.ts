/**
 * Istio's MeshConfig (what the `mesh` key of the `istio` ConfigMap holds, or IstioOperator's
 * `meshConfig`), read from a YAML file given to `trellis control-plane --mesh-config` and
 * `trellis up --mesh-config`. The file is taken unchanged; Trellis applies the fields below and
 * names the others it does not use yet, so nothing is silently assumed to work.
 *
 * - `pathNormalization.normalization`: DEFAULT (= BASE), BASE, NONE, MERGE_SLASHES,
 *   DECODE_AND_MERGE_SLASHES: how proxies normalize request paths before routing.
 * - `outboundTrafficPolicy.mode`: ALLOW_ANY (Istio's default) passes traffic for hosts the mesh
 *   does not know through to where it was going (HTTP: the host it names, resolved by DNS);
 *   REGISTRY_ONLY blocks it (HTTP: 502 from BlackHoleCluster). A Sidecar's own
 *   outboundTrafficPolicy overrides it for the workloads it applies to.
 */
import { parseDocument } from 'yaml';
import { Problems, TrellisError } from '../core/errors.js';
import {
  DEFAULT_MESH_TELEMETRY,
  MESH_TELEMETRY_FIELDS,
  parseMeshTelemetry,
  type MeshTelemetry,
} from './telemetry/mesh-telemetry.js';

export const PATH_NORMALIZATIONS = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;
export type PathNormalizationMode = (typeof PATH_NORMALIZATIONS)[number];

export const OUTBOUND_TRAFFIC_POLICY_MODES = ['ALLOW_ANY', 'REGISTRY_ONLY'] as const;
export type OutboundTrafficPolicyMode = (typeof OUTBOUND_TRAFFIC_POLICY_MODES)[number];

export interface MeshConfig {
  pathNormalization: PathNormalizationMode;
  outboundTrafficPolicy: OutboundTrafficPolicyMode;
  /** Top-level fields the file sets that Trellis does not apply (yet), for a log line. */
  ignoredFields: string[];
  /** Telemetry providers, defaults and legacy access log / tracing fields (api/telemetry). */
  telemetry: MeshTelemetry;
  /** Accepted fields with a caveat (`path: message`), for a log line. */
  warnings: string[];
}

export const DEFAULT_MESH_CONFIG: MeshConfig = Object.freeze({
  pathNormalization: 'BASE',
  outboundTrafficPolicy: 'ALLOW_ANY',
  ignoredFields: [],
  telemetry: DEFAULT_MESH_TELEMETRY,
  warnings: [],
});

const USED = new Set<string>(['pathNormalization', 'outboundTrafficPolicy', ...MESH_TELEMETRY_FIELDS]);

function invalid(file: string, path: string, message: string): TrellisError {
  return new TrellisError('TRELLIS_INVALID_CONFIG', message, { file, path });
}

/** Parses and validates a mesh config file's text; throws naming the file and field. */
export function parseMeshConfig(text: string, file: string): MeshConfig {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw invalid(file, '', `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const root: unknown = doc.toJS() ?? {};
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw invalid(file, '', 'expected a mapping of MeshConfig fields');
  const obj = root as Record<string, unknown>;
  let pathNormalization: PathNormalizationMode = 'BASE';
  const pn = obj.pathNormalization;
  if (pn !== undefined && pn !== null) {
    if (typeof pn !== 'object' || Array.isArray(pn))
      throw invalid(file, 'pathNormalization', 'expected a mapping with `normalization`');
    for (const k of Object.keys(pn))
      if (k !== 'normalization') throw invalid(file, `pathNormalization.${k}`, 'unknown field');
    const n = (pn as Record<string, unknown>).normalization;
    if (n !== undefined && n !== 'DEFAULT') {
      if (typeof n !== 'string' || !(PATH_NORMALIZATIONS as readonly string[]).includes(n))
        throw invalid(
          file,
          'pathNormalization.normalization',
          `expected one of DEFAULT, ${PATH_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(n)}`,
        );
      pathNormalization = n as PathNormalizationMode;
    }
  }
  const problems = new Problems();
  const telemetry = parseMeshTelemetry(obj, problems);
  const first = problems.errors[0];
  if (first !== undefined) throw invalid(file, first.path, first.message);
  return {
    pathNormalization,
    outboundTrafficPolicy: parseOutboundTrafficPolicy(obj.outboundTrafficPolicy, file),
    ignoredFields: [
      ...Object.keys(obj).filter((k) => !USED.has(k) && k !== 'defaultConfig'),
      ...defaultConfigIgnored(obj.defaultConfig),
    ].sort(),
    telemetry,
    warnings: problems.warnings.map((w) => `${w.path}: ${w.message}`),
  };
}

/** `defaultConfig` fields other than `tracing.sampling` (the one Trellis reads). */
function defaultConfigIgnored(dc: unknown): string[] {
  if (typeof dc !== 'object' || dc === null || Array.isArray(dc))
    return dc === undefined || dc === null ? [] : ['defaultConfig'];
  const out: string[] = [];
  for (const [k, v] of Object.entries(dc as Record<string, unknown>)) {
    if (k !== 'tracing') out.push(`defaultConfig.${k}`);
    else if (typeof v === 'object' && v !== null)
      for (const t of Object.keys(v)) if (t !== 'sampling') out.push(`defaultConfig.tracing.${t}`);
  }
  return out;
}

/** `outboundTrafficPolicy: {mode}`; absent means ALLOW_ANY, as in Istio. */
function parseOutboundTrafficPolicy(value: unknown, file: string): OutboundTrafficPolicyMode {
  if (value === undefined || value === null) return 'ALLOW_ANY';
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(
      file,
      'outboundTrafficPolicy',
      'expected a mapping with `mode` (ALLOW_ANY or REGISTRY_ONLY)',
    );
  for (const k of Object.keys(value)) {
    if (k === 'mode') continue;
    throw invalid(
      file,
      `outboundTrafficPolicy.${k}`,
      k === 'egressProxy'
        ? 'egressProxy is not supported by Trellis; remove it (unknown hosts then pass through directly)'
        : 'unknown field (expected mode)',
    );
  }
  const mode = (value as Record<string, unknown>).mode;
  if (mode === undefined || mode === null) return 'ALLOW_ANY';
  if (typeof mode !== 'string' || !(OUTBOUND_TRAFFIC_POLICY_MODES as readonly string[]).includes(mode))
    throw invalid(
      file,
      'outboundTrafficPolicy.mode',
      `expected ALLOW_ANY or REGISTRY_ONLY, got ${JSON.stringify(mode)}`,
    );
  return mode as OutboundTrafficPolicyMode;
}
