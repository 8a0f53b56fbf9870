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
 * - `defaultConfig.concurrency` and `defaultConfig.proxyMetadata`: the mesh-wide ProxyConfig
 *   defaults under every ProxyConfig resource (api/networking/proxy-config.ts), taken by proxies
 *   when they start; other `defaultConfig` fields are listed as not applied.
 */
import { parseDocument } from 'yaml';
import { Problems, TrellisError } from '../core/errors.js';
import type { MeshProxyDefaults } from './networking/proxy-config.js';
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
  /** `defaultConfig.concurrency` / `.proxyMetadata`: what proxies start with under ProxyConfigs. */
  proxyDefaults: MeshProxyDefaults;
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
  proxyDefaults: {},
  ignoredFields: [],
  telemetry: DEFAULT_MESH_TELEMETRY,
  warnings: [],
});

const USED = new Set<string>([
  'pathNormalization',
  'outboundTrafficPolicy',
  'defaultConfig',
  ...MESH_TELEMETRY_FIELDS,
]);

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
  const defaults = parseDefaultConfig(obj.defaultConfig, file);
  return {
    pathNormalization,
    outboundTrafficPolicy: parseOutboundTrafficPolicy(obj.outboundTrafficPolicy, file),
    proxyDefaults: defaults.proxyDefaults,
    ignoredFields: [...Object.keys(obj).filter((k) => !USED.has(k)), ...defaults.ignored].sort(),
    telemetry,
    warnings: problems.warnings.map((w) => `${w.path}: ${w.message}`),
  };
}

const DEFAULT_CONFIG_USED = new Set(['concurrency', 'proxyMetadata']);

/**
 * `defaultConfig` (Istio's ProxyConfig message): concurrency and proxyMetadata are applied here;
 * `tracing.sampling` is read with the telemetry fields (api/telemetry); the rest is listed.
 */
function parseDefaultConfig(
  value: unknown,
  file: string,
): { proxyDefaults: MeshProxyDefaults; ignored: string[] } {
  if (value === undefined || value === null) return { proxyDefaults: {}, ignored: [] };
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(file, 'defaultConfig', 'expected a mapping of ProxyConfig fields');
  const dc = value as Record<string, unknown>;
  const out: { concurrency?: number; proxyMetadata?: Record<string, string> } = {};
  const c = dc.concurrency;
  if (c !== undefined && c !== null) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0)
      throw invalid(
        file,
        'defaultConfig.concurrency',
        `expected a whole number >= 0 (0: one worker per CPU), got ${JSON.stringify(c)}`,
      );
    out.concurrency = c;
  }
  const md = dc.proxyMetadata;
  if (md !== undefined && md !== null) {
    if (typeof md !== 'object' || Array.isArray(md))
      throw invalid(
        file,
        'defaultConfig.proxyMetadata',
        'expected a mapping of environment variable names to strings',
      );
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(md)) {
      if (typeof v !== 'string')
        throw invalid(
          file,
          `defaultConfig.proxyMetadata.${k}`,
          `expected a string, got ${JSON.stringify(v)} (quote it)`,
        );
      env[k] = v;
    }
    out.proxyMetadata = env;
  }
  return {
    proxyDefaults: out,
    ignored: Object.entries(dc).flatMap(([k, v]) => {
      if (DEFAULT_CONFIG_USED.has(k)) return [];
      if (k !== 'tracing') return [`defaultConfig.${k}`];
      return typeof v === 'object' && v !== null
        ? Object.keys(v)
            .filter((t) => t !== 'sampling')
            .map((t) => `defaultConfig.tracing.${t}`)
        : [];
    }),
  };
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
