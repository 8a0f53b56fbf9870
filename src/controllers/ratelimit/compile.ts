/**
 * The RateLimit controller's compile step: validated RateLimit resources -> one flat, ordered
 * list of limits with resolved hosts, normalised matches, and the descriptor each limit's
 * requests carry. Both outputs derive from this one list, so they cannot disagree:
 * - the translator (src/xds/translate/ratelimit*.ts) turns `descriptor` into route
 *   `rate_limits` actions and picks the proxies each limit applies to;
 * - domain-config.ts turns the same `descriptor` into the rate limit service's config tree.
 * Pure: no I/O, no clock.
 */
import { createHash } from 'node:crypto';
import { fqdn } from '../../api/hosts.js';
import type { StringMatch } from '../../api/networking/types.js';
import type { Resource } from '../../api/resource.js';
import {
  QUOTA_UNIT_SECONDS,
  type QuotaUnit,
  type RateLimitMode,
  type RateLimitSide,
  type RateLimitSpec,
} from '../../api/trellis/types.js';

/** The rate limit service domain every Trellis global limit lives in. */
export const RATE_LIMIT_DOMAIN = 'trellis';

/** Descriptor keys as Envoy's actions name them by default. */
export const DESCRIPTOR_KEY = {
  genericKey: 'generic_key',
  headerMatch: 'header_match',
  remoteAddress: 'remote_address',
} as const;

/** The value the match condition's header_value_match action puts in the descriptor. */
export const MATCHED_VALUE = 'matched';

/**
 * One entry of the descriptor a limit's requests produce, in order, named after the Envoy
 * rate limit action that produces it. `value` is fixed for the first two; for the others it
 * comes from the request (the config leaves it open: one quota per distinct value).
 */
export type DescriptorStep =
  /** Always present: names the limit (`<namespace>.<name>.<limit>`). */
  | { action: 'generic_key'; key: typeof DESCRIPTOR_KEY.genericKey; value: string }
  /** Present when the limit has request conditions: only matching requests produce it. */
  | { action: 'header_value_match'; key: typeof DESCRIPTOR_KEY.headerMatch; value: typeof MATCHED_VALUE }
  /** perKey header: the header's value. */
  | { action: 'request_headers'; key: string; header: string }
  /** perKey sourceIp: the caller's address. */
  | { action: 'remote_address'; key: typeof DESCRIPTOR_KEY.remoteAddress };

/** Request conditions of a limit (caller conditions are kept apart: they pick proxies). */
export interface RequestMatch {
  path?: StringMatch;
  method?: string;
  /** Sorted by name; `undefined` match means "present". */
  headers: readonly { name: string; match: StringMatch | undefined }[];
}

export interface CompiledRateLimit {
  /** `<namespace>.<name>.<limit>`: unique, stable, and the generic_key descriptor value. */
  id: string;
  namespace: string;
  resource: string;
  limit: string;
  /** Digest of everything below: equal digests mean equal generated config. */
  fp: string;
  /** Fully qualified (short names resolved in the resource's namespace). */
  hosts: readonly string[];
  port: number | undefined;
  mode: RateLimitMode;
  side: RateLimitSide;
  shadow: boolean;
  /** Global only: reject (500, flag RLSE) instead of passing when the service cannot answer. */
  failureModeDeny: boolean;
  match: RequestMatch;
  /** True when `match` has any condition: only some requests count. */
  conditional: boolean;
  sourceLabels: Readonly<Record<string, string>> | undefined;
  sourceNamespace: string | undefined;
  quota: { requests: number; unit: QuotaUnit; unitSeconds: number; burst: number | undefined };
  descriptor: readonly DescriptorStep[];
}

/** Oldest first, then namespace/name: Istio's precedence when resources conflict. */
function byCreation(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (
    a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name)
  );
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 16);
}

/**
 * Compiles validated RateLimit resources, oldest first and each resource's limits in order
 * (the order decides which local limit a request counts against when several match).
 */
export function compileRateLimits(
  resources: readonly Resource<RateLimitSpec>[],
  domainSuffix = 'cluster.local',
): CompiledRateLimit[] {
  const out: CompiledRateLimit[] = [];
  for (const r of [...resources].sort(byCreation)) {
    const { namespace, name } = r.metadata;
    const spec = r.spec;
    const hosts = [...new Set(spec.hosts.map((h) => fqdn(h, namespace, domainSuffix)))];
    for (const rule of spec.limits) {
      const id = `${namespace}.${name}.${rule.name}`;
      const m = rule.match;
      const match: RequestMatch = {
        ...(m?.path !== undefined ? { path: m.path } : {}),
        ...(m?.method !== undefined ? { method: m.method } : {}),
        headers: Object.entries(m?.headers ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([hname, hm]) => ({ name: hname, match: isStringMatch(hm) ? hm : undefined })),
      };
      const conditional = match.path !== undefined || match.method !== undefined || match.headers.length > 0;
      const descriptor: DescriptorStep[] = [
        { action: 'generic_key', key: DESCRIPTOR_KEY.genericKey, value: id },
      ];
      if (conditional) {
        descriptor.push({
          action: 'header_value_match',
          key: DESCRIPTOR_KEY.headerMatch,
          value: MATCHED_VALUE,
        });
      }
      const perKey = rule.perKey;
      if (perKey !== undefined && 'header' in perKey) {
        descriptor.push({ action: 'request_headers', key: perKey.header, header: perKey.header });
      } else if (perKey !== undefined) {
        descriptor.push({ action: 'remote_address', key: DESCRIPTOR_KEY.remoteAddress });
      }
      const body = {
        id,
        namespace,
        resource: name,
        limit: rule.name,
        hosts,
        port: spec.port,
        mode: spec.mode ?? 'local',
        side: spec.side ?? 'server',
        shadow: spec.shadow ?? false,
        failureModeDeny: spec.failureMode === 'closed',
        match,
        conditional,
        sourceLabels: m?.sourceLabels,
        sourceNamespace: m?.sourceNamespace,
        quota: {
          requests: rule.quota.requests,
          unit: rule.quota.per,
          unitSeconds: QUOTA_UNIT_SECONDS[rule.quota.per],
          burst: rule.quota.burst,
        },
        descriptor,
      };
      out.push(Object.freeze({ ...body, fp: digest(JSON.stringify(body)) }));
    }
  }
  return out;
}

function isStringMatch(m: StringMatch | Record<string, never>): m is StringMatch {
  return 'exact' in m || 'prefix' in m || 'regex' in m;
}
