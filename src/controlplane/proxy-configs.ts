/**
 * The ProxyConfig a proxy starts with (api/networking/proxy-config.ts resolves it), served at
 * `GET /v1/proxy-config?namespace=NS&labels=k=v,...` and used by `trellis up` for its sidecars.
 *
 * Why an HTTP route read at start rather than something pushed over xDS: Istio applies a
 * ProxyConfig when a proxy is created (the injector writes `--concurrency` and the environment
 * into the pod), never to a running Envoy; a worker count and a process environment cannot
 * change without a restart anyway. A plain read keeps that meaning visible, works for any
 * launcher (a systemd unit, a script, `trellis proxy --control-plane URL`), and the answer's
 * fingerprint, sent back in the proxy's node metadata, tells `proxy-status` who runs an old one.
 */
import { TrellisError } from '../core/errors.js';
import type { ConfigSnapshot } from '../config/types.js';
import {
  effectiveProxyConfig,
  proxyConfigFingerprint,
  type EffectiveProxyConfig,
  type MeshProxyDefaults,
  type ProxyConfigResource,
  type ProxyIdentity,
} from '../api/networking/proxy-config.js';

export const PROXY_CONFIG_KIND = 'ProxyConfig';

export interface ResolvedProxyConfig extends EffectiveProxyConfig {
  /** What the proxy sends back in node metadata TRELLIS_PROXY_CONFIG. */
  fingerprint: string;
}

export function resolveProxyConfig(
  snapshot: Pick<ConfigSnapshot, 'list'>,
  proxy: ProxyIdentity,
  rootNamespace: string,
  defaults: MeshProxyDefaults = {},
): ResolvedProxyConfig {
  const configs = snapshot.list(PROXY_CONFIG_KIND) as readonly ProxyConfigResource[];
  const effective = effectiveProxyConfig(configs, proxy, rootNamespace, defaults);
  return { ...effective, fingerprint: proxyConfigFingerprint(effective) };
}

/** Whether a proxy runs the ProxyConfig the current config resolves to (proxy-status). */
export interface ProxyConfigState {
  /** The fingerprint the proxy started with. */
  started: string;
  /** What it would start with now. */
  current: string;
  inEffect: boolean;
  /** The ProxyConfigs it would start with now, most specific first. */
  sources: string[];
}

export function proxyConfigState(started: string, current: ResolvedProxyConfig): ProxyConfigState {
  return {
    started,
    current: current.fingerprint,
    inEffect: started === current.fingerprint,
    sources: current.sources,
  };
}

/** `labels=k=v,k=v` of the route's query (as `trellis proxy --labels` takes them). */
export function parseLabelsQuery(raw: string | null): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === null || raw === '') return labels;
  for (const pair of raw.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `labels=${JSON.stringify(raw)}: expected k=v,k=v (bad entry ${JSON.stringify(pair)})`,
      );
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}
