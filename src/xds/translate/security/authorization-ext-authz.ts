/**
 * CUSTOM authorization: the ext_authz filter of a MeshConfig extension provider, as Istio builds
 * it (pilot/pkg/security/authz/builder/extauthz.go):
 *
 * - `envoyExtAuthzHttp` -> HTTP ext_authz with an http_service (server_uri to the provider's
 *   cluster `outbound|PORT||HOST`, path_prefix, headers to add / let through), no TCP filter
 *   (a CUSTOM policy with an HTTP provider is not enforced on TCP chains, as in Istio);
 * - `envoyExtAuthzGrpc` -> HTTP ext_authz and network ext_authz with an envoy_grpc service;
 * - both run only for requests a CUSTOM policy selects: an RBAC filter before them evaluates the
 *   CUSTOM policies as shadow rules (never enforced), which leaves the matched policy's name in
 *   dynamic metadata (`istio_ext_authz_shadow_effective_policy_id`), and ext_authz's
 *   filter_enabled_metadata runs it only when that name starts with `istio-ext-authz-PROVIDER`;
 * - a provider that is missing, invalid or whose service is not in the registry cannot be used:
 *   the policy's requests are then denied (authorization-filters.ts), never let through.
 */
import type { AuthzExtensionProvider, BodyInCheck } from '../../../api/security/extension-providers.js';
import type { HttpExtAuthz, NetworkExtAuthz, StringMatcher } from '../../../protocol/envoy-types.js';
import { durationMs } from '../envoy.js';
import { outboundCluster } from '../names.js';
import type { PushContext } from '../push-context.js';

export const EXT_AUTHZ_PREFIX = 'istio-ext-authz';
/** The shadow rules' stat prefix, which also prefixes the metadata key RBAC writes. */
export const EXT_AUTHZ_SHADOW_PREFIX = 'istio_ext_authz_';
const EFFECTIVE_POLICY_KEY = `${EXT_AUTHZ_SHADOW_PREFIX}shadow_effective_policy_id`;
const DEFAULT_TIMEOUT_MS = 600;

export type ResolvedProvider =
  { ok: true; http: HttpExtAuthz; tcp: NetworkExtAuthz | undefined } | { ok: false; error: string };

type ListStringMatcher = NonNullable<HttpExtAuthz['allowed_headers']>;
type MetadataMatcher = NonNullable<HttpExtAuthz['filter_enabled_metadata']>;

/** Header patterns as Istio writes them: `x-*` prefix, `*-id` suffix, else exact; ignoring case. */
function headerList(headers: readonly string[] | undefined): ListStringMatcher | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  return {
    patterns: headers.map((h): StringMatcher => {
      if (h.startsWith('*')) return { suffix: h.slice(1), ignore_case: true };
      if (h.endsWith('*')) return { prefix: h.slice(0, -1), ignore_case: true };
      return { exact: h, ignore_case: true };
    }),
  };
}

function enabledFor(filter: string, provider: string): MetadataMatcher {
  return {
    filter,
    path: [{ key: EFFECTIVE_POLICY_KEY }],
    value: { string_match: { prefix: `${EXT_AUTHZ_PREFIX}-${provider}` } },
  };
}

function body(b: BodyInCheck | undefined): HttpExtAuthz['with_request_body'] {
  if (b === undefined) return undefined;
  return {
    ...(b.maxRequestBytes !== undefined ? { max_request_bytes: b.maxRequestBytes } : {}),
    ...(b.allowPartialMessage !== undefined ? { allow_partial_message: b.allowPartialMessage } : {}),
    ...(b.packAsBytes !== undefined ? { pack_as_bytes: b.packAsBytes } : {}),
  };
}

/** Istio's LookupCluster: `HOST` (one service of that name) or `NAMESPACE/HOST`. */
function lookupService(push: PushContext, service: string): { hostname: string } | { error: string } {
  const slash = service.indexOf('/');
  const [ns, host] = slash < 0 ? [undefined, service] : [service.slice(0, slash), service.slice(slash + 1)];
  const svc = push.index.service(host);
  if (svc === undefined || (ns !== undefined && svc.namespace !== ns))
    return { error: `could not find service ${service} in the service registry` };
  return { hostname: svc.hostname };
}

/** The ext_authz configs of a provider by name, or why it cannot be used. */
export function resolveProvider(push: PushContext, name: string): ResolvedProvider {
  const all = push.security.extensionProviders;
  const p: AuthzExtensionProvider | undefined = all.find((x) => x.name === name);
  if (p === undefined) {
    return {
      ok: false,
      error: `no extension provider ${JSON.stringify(name)}; available: ${all.map((x) => x.name).join(', ') || 'none'}`,
    };
  }
  const cfg = p.kind === 'http' ? p.http : p.grpc;
  const found = lookupService(push, cfg.service);
  if ('error' in found)
    return { ok: false, error: `extension provider ${JSON.stringify(name)}: ${found.error}` };
  const cluster = outboundCluster(found.hostname, cfg.port);
  const timeout = durationMs(cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const common: HttpExtAuthz = {
    transport_api_version: 'V3',
    filter_enabled_metadata: enabledFor('envoy.filters.http.rbac', name),
  };
  if (cfg.failOpen === true) common.failure_mode_allow = true;
  if (cfg.statusOnError !== undefined) common.status_on_error = { code: cfg.statusOnError as never };
  const withBody = body(cfg.includeRequestBodyInCheck);
  if (withBody !== undefined) common.with_request_body = withBody;
  if (p.kind === 'grpc') {
    const grpcService = { envoy_grpc: { cluster_name: cluster, authority: found.hostname }, timeout };
    const tcp: NetworkExtAuthz = {
      stat_prefix: 'tcp.',
      transport_api_version: 'V3',
      grpc_service: grpcService,
      filter_enabled_metadata: enabledFor('envoy.filters.network.rbac', name),
    };
    if (cfg.failOpen === true) tcp.failure_mode_allow = true;
    return { ok: true, http: { ...common, grpc_service: grpcService }, tcp };
  }
  const h = p.http;
  const service: NonNullable<HttpExtAuthz['http_service']> = {
    server_uri: { uri: `http://${found.hostname}`, cluster, timeout },
  };
  if (h.pathPrefix !== undefined) service.path_prefix = h.pathPrefix;
  const add = Object.entries(h.includeAdditionalHeadersInCheck ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (add.length > 0)
    service.authorization_request = { headers_to_add: add.map(([key, value]) => ({ key, value })) };
  const up = headerList(h.headersToUpstreamOnAllow);
  const downDeny = headerList(h.headersToDownstreamOnDeny);
  const downAllow = headerList(h.headersToDownstreamOnAllow);
  if (up !== undefined || downDeny !== undefined || downAllow !== undefined) {
    service.authorization_response = {
      ...(up !== undefined ? { allowed_upstream_headers: up } : {}),
      ...(downDeny !== undefined ? { allowed_client_headers: downDeny } : {}),
      ...(downAllow !== undefined ? { allowed_client_headers_on_success: downAllow } : {}),
    };
  }
  const http: HttpExtAuthz = { ...common, http_service: service };
  const allowed = headerList(h.includeRequestHeadersInCheck);
  if (allowed !== undefined) http.allowed_headers = allowed;
  return { ok: true, http, tcp: undefined };
}

/** A fingerprint of what resolveProvider reads for these names: the registry's answer for their services. */
export function providersKey(push: PushContext, names: readonly string[]): string {
  return [...new Set(names)]
    .sort()
    .map((n) => {
      const r = resolveProvider(push, n);
      return `${n}=${r.ok ? 'ok' : 'err'}`;
    })
    .join(',');
}
