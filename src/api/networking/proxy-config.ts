/**
 * ProxyConfig (networking.istio.io v1beta1): per-workload proxy settings, applied as Istio
 * applies them: when a proxy starts (Istio: at injection), never to a running one. A Trellis
 * proxy asks the control plane for its effective config at start (GET /v1/proxy-config, or
 * `trellis up` for its sidecars) and reports what it started with in its node metadata
 * (PROXY_CONFIG_METADATA), so `trellis proxy-status` can name proxies running an older one.
 *
 * - `concurrency`: the proxy's data-plane workers (`trellis proxy --concurrency`); 0 means one
 *   per CPU, as Envoy's `--concurrency 0` under Istio;
 * - `environmentVariables`: extra environment of the proxy's processes; `ISTIO_META_X` ones also
 *   become node metadata `X`, as Istio's agent sends them; names that would change how the
 *   proxy process runs (NODE_OPTIONS, LD_PRELOAD, PATH...: proxy-env.ts) are refused;
 * - `image` picks a container image in Istio and means nothing to a Trellis proxy (a warning).
 *
 * Which one applies follows Istio (pilot/pkg/model/proxy_config.go): the mesh config's
 * `defaultConfig`, then the root namespace's selector-less ProxyConfig, then the workload's
 * namespace's selector-less one, then the first of its namespace whose `selector.matchLabels`
 * the workload's labels hold (a selector without labels selects nothing); oldest first at each
 * level. Each level overrides the fields it sets; environment variables merge name by name.
 */
import { createHash } from 'node:crypto';
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck } from '../fields.js';
import type { Resource } from '../resource.js';
import { proxyEnvRefusal } from './proxy-env.js';
import { checkLabels } from './validate-common.js';

export interface ProxyConfigSpec {
  selector?: { matchLabels?: Record<string, string> };
  /** Worker processes; 0 means one per CPU. Istio writes it as an Int32Value: a plain number. */
  concurrency?: number;
  environmentVariables?: Record<string, string>;
  image?: { imageType?: string };
}

export type ProxyConfigResource = Resource<ProxyConfigSpec>;

/** Node metadata key carrying the fingerprint of the ProxyConfig a proxy started with. */
export const PROXY_CONFIG_METADATA = 'TRELLIS_PROXY_CONFIG';

const AT_START =
  'applied when a proxy starts: running proxies keep the value they started with until restarted (trellis proxy-status shows which)';

export function validateProxyConfig(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const pc = c.object(spec, path, ['selector', 'concurrency', 'environmentVariables', 'image']);
  if (pc === undefined) return;
  const sel = c.child(pc, 'selector', path, ['matchLabels']);
  if (sel !== undefined && checkLabels(c, sel, 'matchLabels', fieldPath(path, 'selector')).size === 0) {
    // Istio applies a ProxyConfig whose selector has no labels to no workload at all.
    c.warning(
      fieldPath(path, 'selector'),
      'a selector without matchLabels selects no workload; remove selector to apply it to the whole namespace',
    );
  }
  c.int(pc, 'concurrency', path, { min: 0 });
  const env = c.stringMap(pc, 'environmentVariables', path);
  for (const name of env?.keys() ?? []) {
    const at = fieldPath(fieldPath(path, 'environmentVariables'), name);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      c.error(at, 'not an environment variable name (letters, digits and _, not starting with a digit)');
      continue;
    }
    const refused = proxyEnvRefusal(name);
    if (refused !== undefined) c.error(at, refused);
  }
  const image = c.child(pc, 'image', path, ['imageType']);
  if (image !== undefined) {
    c.string(image, 'imageType', fieldPath(path, 'image'));
    c.warning(
      fieldPath(path, 'image'),
      'not applicable to the Trellis proxy (it is not a container image chosen per workload); remove it or keep it for Istio',
    );
  }
  for (const key of ['concurrency', 'environmentVariables'] as const) {
    if (!isAbsent(pc[key])) c.warning(fieldPath(path, key), AT_START);
  }
}

/** The mesh config's `defaultConfig` fields a ProxyConfig also sets. */
export interface MeshProxyDefaults {
  concurrency?: number;
  /** `defaultConfig.proxyMetadata`: what a ProxyConfig's environmentVariables become in Istio. */
  proxyMetadata?: Readonly<Record<string, string>>;
}

/** What a proxy gets from the ProxyConfigs that apply to it, with where each field came from. */
export interface EffectiveProxyConfig {
  concurrency?: number;
  environmentVariables: Record<string, string>;
  /** `namespace/name` of each config that contributed, most specific first (`mesh config` last). */
  sources: string[];
}

export interface ProxyIdentity {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** Oldest first, then namespace/name: the one Istio keeps when several compete at one level. */
function precedence(a: ProxyConfigResource, b: ProxyConfigResource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
    `${b.metadata.namespace}/${b.metadata.name}`,
  );
}

function selects(selector: Record<string, string>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

interface Level {
  source: string;
  concurrency?: number | undefined;
  environmentVariables?: Readonly<Record<string, string>> | undefined;
}

/**
 * The ProxyConfig of one proxy: the workload-selected one over its namespace's over the root
 * namespace's over the mesh config's defaults, field by field.
 */
export function effectiveProxyConfig(
  configs: readonly ProxyConfigResource[],
  proxy: ProxyIdentity,
  rootNamespace: string,
  meshDefaults: MeshProxyDefaults = {},
): EffectiveProxyConfig {
  const sorted = [...configs].sort(precedence);
  const inNs = (ns: string) => sorted.filter((r) => r.metadata.namespace === ns);
  const namespaceWide = (ns: string) => inNs(ns).find((r) => r.spec.selector === undefined);
  const workload = inNs(proxy.namespace).find((r) => {
    const labels = r.spec.selector?.matchLabels ?? {};
    return Object.keys(labels).length > 0 && selects(labels, proxy.labels);
  });
  const levels: Level[] = [
    {
      source: 'mesh config',
      concurrency: meshDefaults.concurrency,
      environmentVariables: meshDefaults.proxyMetadata,
    },
  ];
  const found = [
    namespaceWide(rootNamespace),
    proxy.namespace === rootNamespace ? undefined : namespaceWide(proxy.namespace),
    workload,
  ];
  for (const r of found) {
    if (r === undefined) continue;
    levels.push({
      source: `${r.metadata.namespace}/${r.metadata.name}`,
      concurrency: r.spec.concurrency,
      environmentVariables: r.spec.environmentVariables,
    });
  }
  const out: EffectiveProxyConfig = { environmentVariables: {}, sources: [] };
  // Least specific first, each level overriding what it sets (Istio's mergeWithPrecedence).
  for (const level of levels) {
    const sets = level.concurrency !== undefined || level.environmentVariables !== undefined;
    if (level.concurrency !== undefined) out.concurrency = level.concurrency;
    Object.assign(out.environmentVariables, level.environmentVariables ?? {});
    if (sets) out.sources.unshift(level.source);
  }
  return out;
}

/**
 * A short stable fingerprint of what a proxy runs with (concurrency and environment), sent in
 * its node metadata and compared with what the current config resolves to. Sources are left
 * out: a rename that changes nothing a proxy runs with needs no restart.
 */
export function proxyConfigFingerprint(
  c: Pick<EffectiveProxyConfig, 'concurrency' | 'environmentVariables'>,
): string {
  const env = Object.keys(c.environmentVariables)
    .sort()
    .map((k) => [k, c.environmentVariables[k]]);
  const text = JSON.stringify({ concurrency: c.concurrency ?? null, env });
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** Node metadata an environment adds, as Istio's agent reads it: ISTIO_META_X=v is X=v. */
export function metadataFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('ISTIO_META_') && name.length > 'ISTIO_META_'.length && value !== undefined)
      out[name.slice('ISTIO_META_'.length)] = value;
  }
  return out;
}
