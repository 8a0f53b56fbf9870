/**
 * The security filters' typed_config -> model: envoy.filters.http.rbac, envoy.filters.http.jwt_authn
 * and envoy.filters.network.rbac, plus the HCM fields that decide the client address RBAC sees.
 * Every field the proxy does not honour is reported (the whole xDS response is NACKed); the
 * engines themselves are compiled by policy/rbac.ts and policy/jwt-authn.ts.
 */
import { isTrellisError, type Problems } from '../../core/errors.js';
import { protoRoot, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type {
  HttpConnectionManager__Output,
  HttpExtAuthz__Output,
  HttpRbac__Output,
  JwtAuthentication__Output,
  NetworkRbac__Output,
} from '../../protocol/envoy-types.js';
import type {
  ClientAddressPolicy,
  ExtAuthzConfig,
  ExtAuthzHttpService,
  HttpFilterConfig,
  NetworkRbacFilter,
  RbacFilter,
} from './config.js';
import {
  compileMetadataMatcher,
  compileRbac,
  type MetadataMatcherConfig,
  type RbacCompileOptions,
  type RbacConfig,
} from '../policy/rbac.js';
import {
  compileJwtProvider,
  compileRequirement,
  type JwtAuthnFilter,
  type JwtProvider,
  type JwtProviderConfig,
  type JwtRequirementConfig,
  type JwtRule,
} from '../policy/jwt-config.js';
import { checkFields, durationMs, fieldSet } from './convert-common.js';
import { convertMatch } from './convert-route-match.js';
import { compileStringMatcher, type StringMatcherConfig } from '../policy/string-matcher.js';

function compiled<T>(compile: () => T, path: string, problems: Problems): T | undefined {
  try {
    return compile();
  } catch (err) {
    problems.error(isTrellisError(err) ? (err.path ?? path) : path, (err as Error).message);
    return undefined;
  }
}

const HTTP_RBAC_FIELDS = fieldSet('rules', 'shadow_rules', 'rules_stat_prefix', 'shadow_rules_stat_prefix');

function engines(
  msg: { rules?: unknown; shadow_rules?: unknown; shadow_rules_stat_prefix?: string },
  path: string,
  problems: Problems,
  options: RbacCompileOptions,
): Omit<RbacFilter, 'rulesStatPrefix'> {
  const out: Omit<RbacFilter, 'rulesStatPrefix'> = {
    shadowRulesStatPrefix: msg.shadow_rules_stat_prefix ?? '',
  };
  if (msg.rules !== undefined) {
    const rules = compiled(
      () => compileRbac(msg.rules as RbacConfig, `${path}.rules`, options),
      path,
      problems,
    );
    if (rules) out.rules = rules;
  }
  if (msg.shadow_rules !== undefined) {
    const shadow = compiled(
      () => compileRbac(msg.shadow_rules as RbacConfig, `${path}.shadow_rules`, options),
      path,
      problems,
    );
    if (shadow) out.shadowRules = shadow;
  }
  return out;
}

/** envoy.filters.http.rbac; `matcher` / `shadow_matcher` (the unified matcher API) are refused. */
export function convertHttpRbac(
  name: string,
  any: AnyLike,
  path: string,
  problems: Problems,
): HttpFilterConfig | undefined {
  const msg = unpackAny<HttpRbac__Output>(any);
  const before = problems.items.length;
  checkFields(msg, path, HTTP_RBAC_FIELDS, problems);
  const e = engines(msg, path, problems, { destinationIp: true });
  if (problems.items.length !== before) return undefined;
  return { kind: 'rbac', name, rbac: Object.freeze({ ...e, rulesStatPrefix: msg.rules_stat_prefix ?? '' }) };
}

const NETWORK_RBAC_FIELDS = fieldSet(
  'rules',
  'shadow_rules',
  'stat_prefix',
  'shadow_rules_stat_prefix',
  'enforcement_type',
);

/** envoy.filters.network.rbac ahead of a TCP proxy. */
export function convertNetworkRbac(
  any: AnyLike,
  path: string,
  problems: Problems,
): NetworkRbacFilter | undefined {
  const msg = unpackAny<NetworkRbac__Output>(any);
  const before = problems.items.length;
  checkFields(msg, path, NETWORK_RBAC_FIELDS, problems);
  if (!msg.stat_prefix) problems.error(`${path}.stat_prefix`, 'must be non-empty');
  // CONTINUOUS re-checks on every read; the decision here reads only connection facts, which do
  // not change, so both enforcement types decide once, at the first byte.
  const e = engines(msg, path, problems, {});
  if (problems.items.length !== before) return undefined;
  return Object.freeze({ ...e, rulesStatPrefix: '', statPrefix: msg.stat_prefix ?? '' });
}

const JWT_FIELDS = fieldSet('providers', 'rules', 'bypass_cors_preflight', 'strip_failure_response');

/** envoy.filters.http.jwt_authn; requirement_map and filter_state_rules are refused. */
export function convertJwtAuthn(
  name: string,
  any: AnyLike,
  path: string,
  problems: Problems,
): HttpFilterConfig | undefined {
  const msg = unpackAny<JwtAuthentication__Output>(any);
  const before = problems.items.length;
  checkFields(msg, path, JWT_FIELDS, problems);
  const providers = new Map<string, JwtProvider>();
  for (const [pname, p] of Object.entries(msg.providers ?? {})) {
    const ppath = `${path}.providers[${JSON.stringify(pname)}]`;
    const provider = compiled(
      () => compileJwtProvider(pname, p as JwtProviderConfig, ppath),
      ppath,
      problems,
    );
    if (provider) providers.set(pname, provider);
  }
  const rules: JwtRule[] = [];
  (msg.rules ?? []).forEach((r, i) => {
    const rpath = `${path}.rules[${i}]`;
    if (r.requirement_name) problems.error(`${rpath}.requirement_name`, 'requirement_map is not supported');
    if (!r.match) {
      problems.error(`${rpath}.match`, 'is required');
      return;
    }
    const rule: JwtRule = { match: convertMatch(r.match, `${rpath}.match`, problems, { routes: false }) };
    if (r.requires) {
      const req = compiled(
        () => compileRequirement(r.requires as JwtRequirementConfig, providers, `${rpath}.requires`),
        `${rpath}.requires`,
        problems,
      );
      if (req) rule.requires = req;
    }
    rules.push(Object.freeze(rule));
  });
  if (problems.items.length !== before) return undefined;
  const outputHeaders = new Set<string>();
  for (const p of providers.values()) {
    if (p.forwardPayloadHeader) outputHeaders.add(p.forwardPayloadHeader);
    for (const c of p.claimToHeaders) outputHeaders.add(c.header);
  }
  const jwt: JwtAuthnFilter = {
    providers,
    rules: Object.freeze(rules),
    bypassCorsPreflight: msg.bypass_cors_preflight === true,
    stripFailureResponse: msg.strip_failure_response === true,
    outputHeaders: Object.freeze([...outputHeaders]),
  };
  return { kind: 'jwt_authn', name, jwt: Object.freeze(jwt) };
}

const EXT_AUTHZ_FIELDS = fieldSet(
  'grpc_service',
  'failure_mode_allow',
  'failure_mode_allow_header_add',
  'status_on_error',
  'transport_api_version',
  'stat_prefix',
  'filter_enabled_metadata',
  // The service is told the peer's certificate only when it asks; its decision is what counts.
  'include_peer_certificate',
  'services',
  'http_service',
);
const HTTP_SERVICE_FIELDS = fieldSet(
  'server_uri',
  'path_prefix',
  'authorization_request',
  'authorization_response',
);
const HTTP_RESPONSE_FIELDS = fieldSet(
  'allowed_upstream_headers',
  'allowed_upstream_headers_to_append',
  'allowed_client_headers',
  'allowed_client_headers_on_success',
);

/** A ListStringMatcher over lower-case header names; undefined when absent. */
function headerList(
  list: { patterns?: StringMatcherConfig[] } | undefined,
  path: string,
  problems: Problems,
): ((name: string) => boolean) | undefined {
  if (!list) return undefined;
  const ms = (list.patterns ?? []).map((m, i) =>
    compiled(() => compileStringMatcher(m, `${path}.patterns[${i}]`), path, problems),
  );
  return (name) => ms.some((m) => m?.(name) === true);
}

function httpService(
  msg: NonNullable<HttpExtAuthz__Output['http_service']>,
  path: string,
  problems: Problems,
): { cluster: string; timeoutMs: number; http: ExtAuthzHttpService } {
  checkFields(msg, path, HTTP_SERVICE_FIELDS, problems);
  const uri = msg.server_uri;
  if (!uri?.cluster) problems.error(`${path}.server_uri.cluster`, 'must be non-empty');
  const res = msg.authorization_response;
  if (res) checkFields(res, `${path}.authorization_response`, HTTP_RESPONSE_FIELDS, problems);
  const rp = `${path}.authorization_response`;
  const http: ExtAuthzHttpService = {
    pathPrefix: msg.path_prefix ?? '',
    requestHeader:
      headerList(
        msg.authorization_request?.allowed_headers,
        `${path}.authorization_request.allowed_headers`,
        problems,
      ) ?? (() => false),
    headersToAdd: (msg.authorization_request?.headers_to_add ?? []).map((h) => [
      (h.key ?? '').toLowerCase(),
      h.value ?? '',
    ]),
  };
  const set = (k: keyof ExtAuthzHttpService, field: keyof NonNullable<typeof res>) => {
    const m = headerList(res?.[field], `${rp}.${field}`, problems);
    if (m) (http as unknown as Record<string, unknown>)[k] = m;
  };
  set('upstreamHeader', 'allowed_upstream_headers');
  set('upstreamAppendHeader', 'allowed_upstream_headers_to_append');
  set('clientHeader', 'allowed_client_headers');
  set('clientHeaderOnSuccess', 'allowed_client_headers_on_success');
  return { cluster: uri?.cluster ?? '', timeoutMs: durationMs(uri?.timeout, 200), http };
}
const GRPC_SERVICE_FIELDS = fieldSet('envoy_grpc', 'timeout', 'target_specifier');

/** An envoy.type.v3.StatusCode (decoded as its name) as a number; undefined when absent. */
export function httpStatusCode(code: string | number | undefined): number | undefined {
  if (code === undefined) return undefined;
  if (typeof code === 'number') return code;
  const n = protoRoot().lookupEnum('envoy.type.v3.StatusCode').values[code];
  return n;
}

/**
 * envoy.filters.http.ext_authz with a gRPC service (Istio's CUSTOM action with an envoyExtAuthzGrpc
 * provider). http_service, request bodies, runtime switches and header mutation rules are NACKed.
 */
export function convertExtAuthz(
  name: string,
  any: AnyLike,
  path: string,
  problems: Problems,
): HttpFilterConfig | undefined {
  const msg = unpackAny<HttpExtAuthz__Output>(any);
  const before = problems.items.length;
  checkFields(msg, path, EXT_AUTHZ_FIELDS, problems);
  const version = msg.transport_api_version;
  if (version !== undefined && version !== 'V3')
    problems.error(`${path}.transport_api_version`, 'only V3 is supported');
  const grpc = msg.grpc_service;
  if (!grpc && msg.http_service) {
    const h = httpService(msg.http_service, `${path}.http_service`, problems);
    if (problems.items.length !== before) return undefined;
    return {
      kind: 'ext_authz',
      name,
      extAuthz: Object.freeze(extAuthzCommon(msg, path, problems, h.cluster, h.cluster, h.timeoutMs, h.http)),
    };
  }
  if (!grpc) {
    problems.error(path, 'expected grpc_service or http_service');
    return undefined;
  }
  checkFields(grpc, `${path}.grpc_service`, GRPC_SERVICE_FIELDS, problems);
  const cluster = grpc.envoy_grpc?.cluster_name ?? '';
  if (cluster === '') problems.error(`${path}.grpc_service.envoy_grpc.cluster_name`, 'must be non-empty');
  const config = extAuthzCommon(
    msg,
    path,
    problems,
    cluster,
    grpc.envoy_grpc?.authority || authorityOf(cluster),
    durationMs(grpc.timeout, 200),
  );
  if (problems.items.length !== before) return undefined;
  return { kind: 'ext_authz', name, extAuthz: Object.freeze(config) };
}

/** What gRPC and HTTP services share: failure handling, stats, the metadata gate. */
function extAuthzCommon(
  msg: HttpExtAuthz__Output,
  path: string,
  problems: Problems,
  cluster: string,
  authority: string,
  timeoutMs: number,
  http?: ExtAuthzHttpService,
): ExtAuthzConfig {
  const out: ExtAuthzConfig = {
    cluster,
    authority,
    timeoutMs,
    failureModeAllow: msg.failure_mode_allow === true,
    failureModeAllowHeaderAdd: msg.failure_mode_allow_header_add === true,
    statusOnError: httpStatusCode(msg.status_on_error?.code) ?? 403,
    statPrefix: msg.stat_prefix ?? '',
  };
  if (http) out.http = http;
  if (msg.filter_enabled_metadata) {
    const p = `${path}.filter_enabled_metadata`;
    const m = compiled(
      () => compileMetadataMatcher(msg.filter_enabled_metadata as MetadataMatcherConfig, p),
      p,
      problems,
    );
    if (m) out.enabledBy = m;
  }
  return out;
}

/**
 * Envoy sends the cluster name as :authority by default; Istio's names (`outbound|9000||host`)
 * hold `|`, which HTTP/2 servers refuse in an authority, so the service's `host:port` is sent.
 */
function authorityOf(cluster: string): string {
  const [direction, port, , host] = cluster.split('|');
  return direction === 'outbound' && host && port ? `${host}:${port}` : cluster;
}

/** use_remote_address and xff_num_trusted_hops of an HTTP connection manager. */
export function clientAddressPolicy(msg: HttpConnectionManager__Output): ClientAddressPolicy {
  return Object.freeze({
    useRemoteAddress: msg.use_remote_address?.value === true,
    xffNumTrustedHops: msg.xff_num_trusted_hops ?? 0,
  });
}
