/** Test support for EnvoyFilter translation tests (imported by *.test.ts only). */
import type { Resource } from '../../../api/resource.js';
import type { EnvoyFilterSpec } from '../../../api/networking/envoy-filter.js';
import { unpackAny, TYPE } from '../../../protocol/protos.js';
import { res, type Loose } from '../testkit.js';

export function envoyFilter(
  namespace: string,
  name: string,
  spec: EnvoyFilterSpec,
  created?: string,
): Resource {
  const r = res(
    'EnvoyFilter',
    namespace,
    name,
    spec,
    created === undefined ? {} : { creationTimestamp: created },
  );
  return { ...r, apiVersion: 'networking.istio.io/v1alpha3' };
}

/** The local rate limit patch value (HTTP_ROUTE MERGE). */
export const LOCAL_LIMIT_ROUTE_VALUE = {
  typed_per_filter_config: {
    'envoy.filters.http.local_ratelimit': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
      stat_prefix: 'inbound',
      token_bucket: { max_tokens: 1000, tokens_per_fill: 1000, fill_interval: '1s' },
      filter_enabled: {
        runtime_key: 'local_rate_limit_enabled',
        default_value: { numerator: 100, denominator: 'HUNDRED' },
      },
      filter_enforced: {
        runtime_key: 'local_rate_limit_enforced',
        default_value: { numerator: 100, denominator: 'HUNDRED' },
      },
    },
  },
};

type Obj = Record<string, unknown>;

/** The HCMs of a listener, decoded (http_filters, route_config...). */
export function hcmsOf(listener: object): Loose[] {
  const out: Loose[] = [];
  for (const fc of ((listener as Obj).filter_chains ?? []) as Obj[]) {
    for (const f of (fc.filters ?? []) as Obj[]) {
      const any = f.typed_config as { type_url?: string; value?: Uint8Array } | undefined;
      if (any?.type_url === TYPE.hcm) out.push(unpackAny(any));
    }
  }
  return out;
}

export function httpFilterNames(listener: object): string[][] {
  return hcmsOf(listener).map((h: Obj) => ((h.http_filters ?? []) as Obj[]).map((f) => f.name as string));
}
