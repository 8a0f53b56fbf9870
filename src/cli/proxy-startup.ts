/**
 * What a Trellis proxy starts with from its ProxyConfig (api/networking/proxy-config.ts), as an
 * injected Envoy starts with Istio's: the worker count, extra environment, and node metadata
 * (`ISTIO_META_X=v` as `X: v`, and TRELLIS_PROXY_CONFIG, the fingerprint `trellis proxy-status`
 * compares with what the config resolves to now). `trellis proxy --control-plane URL` asks for it
 * at start; `trellis up` resolves it for each sidecar it starts.
 */
import { metadataFromEnvironment, PROXY_CONFIG_METADATA } from '../api/networking/proxy-config.js';
import { safeProxyEnv } from '../api/networking/proxy-env.js';
import type { ResolvedProxyConfig } from '../controlplane/proxy-configs.js';
import { TrellisError } from '../core/errors.js';
import { apiGet } from './http-client.js';

export interface ProxyStartup {
  /** Data-plane workers: 1 is a single process. */
  concurrency: number;
  /** The ProxyConfig's environment variables, for the proxy's processes. */
  env: Record<string, string>;
  /** Extra node metadata. */
  metadata: Record<string, string>;
  /** One line for the proxy's output: what it took and from where; undefined when nothing. */
  summary: string | undefined;
  /**
   * Lines for the proxy's log, one per environment variable left out because it would change how
   * the proxy process runs (a control plane older than that check may still serve one).
   */
  dropped: string[];
}

export interface StartupInput {
  /** What the control plane resolved; undefined when the proxy did not ask. */
  resolved: ResolvedProxyConfig | undefined;
  /** `--concurrency N` as given on the command line (wins over the ProxyConfig). */
  flagConcurrency: number | undefined;
  /** The environment the proxy was started in (its own ISTIO_META_ variables count too). */
  processEnv: Readonly<Record<string, string | undefined>>;
  /** CPUs, for concurrency 0 (Envoy's "one worker per CPU"). */
  cpus: number;
}

export function proxyStartup(input: StartupInput): ProxyStartup {
  const { resolved, flagConcurrency } = input;
  const safe = safeProxyEnv(resolved?.environmentVariables ?? {});
  const env = safe.env;
  const fromConfig = resolved?.concurrency === undefined ? undefined : resolved.concurrency || input.cpus;
  const concurrency = flagConcurrency ?? fromConfig ?? 1;
  const metadata: Record<string, string> = metadataFromEnvironment({ ...input.processEnv, ...env });
  if (resolved !== undefined) metadata[PROXY_CONFIG_METADATA] = resolved.fingerprint;
  const parts: string[] = [];
  if (resolved?.concurrency !== undefined) {
    const what = `concurrency ${resolved.concurrency}${resolved.concurrency === 0 ? ` (${input.cpus} CPUs)` : ''}`;
    parts.push(
      flagConcurrency !== undefined && flagConcurrency !== fromConfig
        ? `${what} overridden by --concurrency ${flagConcurrency}`
        : what,
    );
  }
  const names = Object.keys(env).sort();
  if (names.length > 0) parts.push(`environment ${names.join(', ')}`);
  const summary =
    resolved === undefined || resolved.sources.length === 0
      ? undefined
      : `ProxyConfig ${parts.join('; ')} (from ${resolved.sources.join(', ')})`;
  const dropped = safe.dropped.map((line) => `ProxyConfig environment variable ignored: ${line}`);
  return { concurrency, env, metadata, summary, dropped };
}

/** GET /v1/proxy-config for a proxy's namespace and labels, with an error that says what to do. */
export async function askProxyConfig(
  base: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): Promise<ResolvedProxyConfig> {
  const query = new URLSearchParams({
    namespace,
    labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  });
  try {
    return (await apiGet(base, `/v1/proxy-config?${query.toString()}`)) as ResolvedProxyConfig;
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `cannot read this proxy's ProxyConfig from ${base}: ${(err as Error).message}. --control-plane is the control plane's HTTP API (e.g. http://127.0.0.1:15014); leave it out to start without ProxyConfig`,
    );
  }
}
