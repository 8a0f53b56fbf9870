/**
 * Builders for the security filters tests serve through FakeAds, in the shapes Istio emits:
 * RBAC filters named envoy.filters.http.rbac with policies `ns[NS]-policy[NAME]-rule[N]`, a
 * jwt_authn filter, and a file access log printing the response code details.
 */
import { TYPE, packAny } from '../../protocol/protos.js';

export const RBAC_FILTER = 'envoy.filters.http.rbac';
export const JWT_FILTER = 'envoy.filters.http.jwt_authn';

export interface RbacRules {
  action?: 'ALLOW' | 'DENY' | 'LOG';
  policies?: Record<string, { permissions: object[]; principals: object[] }>;
}

/** An HTTP RBAC filter entry for HttpConnectionManager.http_filters. */
export function httpRbac(
  rules: RbacRules | undefined,
  extra: { shadow_rules?: RbacRules; shadow_rules_stat_prefix?: string; rules_stat_prefix?: string } = {},
): object {
  return {
    name: RBAC_FILTER,
    typed_config: packAny(TYPE.rbac, { ...(rules ? { rules } : {}), ...extra }),
  };
}

/** One policy with the given permissions, any principal (Istio's `to` only rule). */
export function policy(permissions: object[], principals: object[] = [{ any: true }]) {
  return { permissions, principals };
}

/** A jwt_authn filter entry. */
export function jwtAuthn(config: object): object {
  return { name: JWT_FILTER, typed_config: packAny(TYPE.jwtAuthn, config) };
}

/** HCM access_log writing `format` to `path`. */
export function accessLogTo(path: string, format: string): object[] {
  return [
    {
      name: 'envoy.access_loggers.file',
      typed_config: packAny(TYPE.fileAccessLog, {
        path,
        log_format: { text_format_source: { inline_string: format } },
      }),
    },
  ];
}
