/**
 * ProxyConfig (networking.istio.io v1beta1): per-workload proxy settings. Trellis validates and
 * stores them and resolves which apply to a proxy (effectiveProxyConfig); `concurrency` and
 * `environmentVariables` are not handed to running proxies yet (a proxy's worker count is fixed
 * at start), so they carry a warning saying so; `image` picks a container image in Istio and
 * means nothing to a Trellis proxy.
 *
 * Which one applies follows Istio: a ProxyConfig with a `selector` in the workload's namespace,
 * else one without selector in that namespace, else one without selector in the root namespace;
 * each field is taken from the most specific config that sets it.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck } from '../fields.js';
import type { Resource } from '../resource.js';
import { checkWorkloadSelector } from './validate-common.js';

export interface ProxyConfigSpec {
  selector?: { matchLabels?: Record<string, string> };
  /** Worker threads; 0 means one per CPU. Istio writes it as an Int32Value: a plain number. */
  concurrency?: number;
  environmentVariables?: Record<string, string>;
  image?: { imageType?: string };
}

export type ProxyConfigResource = Resource<ProxyConfigSpec>;

export function validateProxyConfig(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const pc = c.object(spec, path, ['selector', 'concurrency', 'environmentVariables', 'image']);
  if (pc === undefined) return;
  checkWorkloadSelector(c, pc, 'selector', path, 'matchLabels');
  c.int(pc, 'concurrency', path, { min: 0 });
  const env = c.stringMap(pc, 'environmentVariables', path);
  for (const name of env?.keys() ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      c.error(
        fieldPath(fieldPath(path, 'environmentVariables'), name),
        'not an environment variable name (letters, digits and _, not starting with a digit)',
      );
    }
  }
  const image = c.child(pc, 'image', path, ['imageType']);
  if (image !== undefined) {
    c.string(image, 'imageType', fieldPath(path, 'image'));
    c.warning(
      fieldPath(path, 'image'),
      'ignored: Trellis proxies are not container images chosen per workload; remove it or keep it for Istio',
    );
  }
  // Stored and resolved per proxy (effectiveProxyConfig), not yet handed to running proxies.
  if (!isAbsent(pc.concurrency)) {
    c.warning(
      fieldPath(path, 'concurrency'),
      'accepted but not applied yet: a Trellis proxy takes its worker count at start from trellis proxy --concurrency N',
    );
  }
  if (!isAbsent(pc.environmentVariables)) {
    c.warning(
      fieldPath(path, 'environmentVariables'),
      'accepted but not applied yet: set the variables in the environment of trellis proxy',
    );
  }
}

/** What a proxy gets from the ProxyConfigs that apply to it, with where each field came from. */
export interface EffectiveProxyConfig {
  concurrency?: number;
  environmentVariables: Record<string, string>;
  /** `namespace/name` of each config that contributed, most specific first. */
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

/**
 * The ProxyConfig of one proxy: workload-selected, then its namespace's, then the root
 * namespace's; a field unset at one level comes from the next.
 */
export function effectiveProxyConfig(
  configs: readonly ProxyConfigResource[],
  proxy: ProxyIdentity,
  rootNamespace: string,
): EffectiveProxyConfig {
  const sorted = [...configs].sort(precedence);
  const inNs = (ns: string) => sorted.filter((r) => r.metadata.namespace === ns);
  const withSelector = inNs(proxy.namespace).find((r) => {
    const sel = r.spec.selector;
    return sel !== undefined && selects(sel.matchLabels ?? {}, proxy.labels);
  });
  const namespaceWide = inNs(proxy.namespace).find((r) => r.spec.selector === undefined);
  const root =
    proxy.namespace === rootNamespace
      ? undefined
      : inNs(rootNamespace).find((r) => r.spec.selector === undefined);
  const levels = [withSelector, namespaceWide, root].filter((r): r is ProxyConfigResource => r !== undefined);

  const out: EffectiveProxyConfig = { environmentVariables: {}, sources: [] };
  for (const r of levels) {
    out.sources.push(`${r.metadata.namespace}/${r.metadata.name}`);
    if (out.concurrency === undefined && r.spec.concurrency !== undefined)
      out.concurrency = r.spec.concurrency;
    // Istio replaces the whole map with the most specific one that has it.
    if (Object.keys(out.environmentVariables).length === 0 && r.spec.environmentVariables !== undefined) {
      out.environmentVariables = { ...r.spec.environmentVariables };
    }
  }
  return out;
}
