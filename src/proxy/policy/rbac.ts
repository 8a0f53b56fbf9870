import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import { invalid, unsupported, unwrap, type Wrapped } from './proto-values.js';
import { compileUriTemplate } from './uri-template.js';
import {
  compileHeaderMatcher,
  compileStringMatcher,
  type HeaderMatcherConfig,
  type RequestHeaders,
  type StringMatcherConfig,
  type StringPredicate,
} from './string-matcher.js';

/**
 * Envoy's RBAC engine (envoy.config.rbac.v3.RBAC), the decision half of the HTTP and network RBAC
 * filters that Istio's AuthorizationPolicy compiles to: a policy matches a request when any of
 * its permissions and any of its principals match; an ALLOW engine allows a request only when
 * some policy matches it, a DENY engine denies it then, a LOG engine never decides. Pure and
 * compiled once: the data path asks `decide(request)`.
 * https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/rbac/v3/rbac.proto
 *
 * The request is what the connection manager knows after path normalization: the path RBAC
 * matches is the normalized one, so `//admin` or `/a/../admin` cannot slip past a rule on `/admin`
 * that Istio wrote (Istio relies on Envoy's normalization the same way).
 *
 * Exports:
 *   compileRbac(config: RbacConfig, path): RbacEngine     throws TrellisError with a field path
 *   RbacEngine.decide(request): { allowed: boolean; policy?: string }  policy: the one that matched
 *   interface RbacRequest { headers (pseudo-headers included), path (no query), sourceIp,
 *     remoteIp, destinationIp, destinationPort, principal?, sni?, metadata? }
 */
export interface RbacRequest {
  /** Lower-case names, pseudo-headers included. */
  headers: RequestHeaders;
  /** The normalized path, without the query string; undefined outside HTTP (network RBAC). */
  path: string | undefined;
  /** The peer of the connection (Envoy's direct_remote_ip). */
  directRemoteIp: string;
  /** The client as x-forwarded-for says, when trusted (Envoy's remote_ip); else the peer. */
  remoteIp: string;
  destinationIp: string;
  destinationPort: number;
  /** The peer certificate's URI SAN (else its subject), when the connection is mTLS. */
  principal?: string | undefined;
  /** The TLS SNI the client asked for. */
  sni?: string | undefined;
  /** Dynamic metadata by filter name (e.g. the verified JWT payload of envoy.filters.http.jwt_authn). */
  metadata?: Readonly<Record<string, unknown>> | undefined;
}

export interface RbacDecision {
  allowed: boolean;
  /** The policy that matched, for the access log and `RBAC: access denied` details. */
  policy?: string | undefined;
}

export interface RbacEngine {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  decide(request: RbacRequest): RbacDecision;
}

interface CidrConfig {
  address_prefix?: string | null;
  prefix_len?: Wrapped<number>;
}

interface PathMatcherConfig {
  path?: StringMatcherConfig | null;
}

interface MetadataMatcherConfig {
  filter?: string | null;
  path?: { key?: string | null }[] | null;
  value?: ValueMatcherConfig | null;
  invert?: boolean | null;
}

interface ValueMatcherConfig {
  string_match?: StringMatcherConfig | null;
  bool_match?: boolean | null;
  present_match?: boolean | null;
  list_match?: { one_of?: ValueMatcherConfig | null } | null;
  null_match?: object | null;
  double_match?: unknown;
  or_match?: { value_matchers?: ValueMatcherConfig[] | null } | null;
}

export interface PermissionConfig {
  and_rules?: { rules?: PermissionConfig[] | null } | null;
  or_rules?: { rules?: PermissionConfig[] | null } | null;
  any?: boolean | null;
  header?: HeaderMatcherConfig | null;
  url_path?: PathMatcherConfig | null;
  destination_ip?: CidrConfig | null;
  destination_port?: number | null;
  destination_port_range?: { start?: number | null; end?: number | null } | null;
  metadata?: MetadataMatcherConfig | null;
  not_rule?: PermissionConfig | null;
  requested_server_name?: StringMatcherConfig | null;
  /** TypedExtensionConfig holding an UriTemplateMatchConfig (Istio's `{*}` / `{**}` paths). */
  uri_template?: { name?: string | null; typed_config?: AnyLike | null } | null;
  [other: string]: unknown;
}

export interface PrincipalConfig {
  and_ids?: { ids?: PrincipalConfig[] | null } | null;
  or_ids?: { ids?: PrincipalConfig[] | null } | null;
  any?: boolean | null;
  authenticated?: { principal_name?: StringMatcherConfig | null } | null;
  source_ip?: CidrConfig | null;
  direct_remote_ip?: CidrConfig | null;
  remote_ip?: CidrConfig | null;
  header?: HeaderMatcherConfig | null;
  url_path?: PathMatcherConfig | null;
  metadata?: MetadataMatcherConfig | null;
  not_id?: PrincipalConfig | null;
  [other: string]: unknown;
}

export interface RbacConfig {
  action?: 'ALLOW' | 'DENY' | 'LOG' | null;
  policies?: Record<
    string,
    {
      permissions?: PermissionConfig[] | null;
      principals?: PrincipalConfig[] | null;
      condition?: unknown;
      checked_condition?: unknown;
    }
  > | null;
  audit_logging_options?: unknown;
}

export interface RbacCompileOptions {
  /**
   * Whether requests carry their destination IP. The HTTP connection manager does not know the
   * connection's local address yet, so there a destination_ip rule is refused rather than
   * evaluated against nothing (which would let a DENY on it never match).
   */
  destinationIp?: boolean;
}

type Rule = (r: RbacRequest) => boolean;

export function compileRbac(
  config: RbacConfig,
  path = 'rules',
  options: RbacCompileOptions = {},
): RbacEngine {
  const action = config.action ?? 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') {
    throw unsupported(`${path}.action`, `RBAC action ${JSON.stringify(action)} is not supported`);
  }
  if (config.audit_logging_options !== undefined && config.audit_logging_options !== null)
    throw unsupported(`${path}.audit_logging_options`, 'RBAC audit logging is not supported by this proxy');
  const ctx: Ctx = { destinationIp: options.destinationIp !== false };
  const policies = Object.entries(config.policies ?? {})
    // Envoy evaluates policies in name order; the first match names the decision.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, p]) => {
      const ppath = `${path}.policies[${JSON.stringify(name)}]`;
      for (const f of ['condition', 'checked_condition'] as const)
        if (p[f] !== undefined && p[f] !== null)
          throw unsupported(`${ppath}.${f}`, 'CEL conditions are not supported by this proxy');
      const permissions = (p.permissions ?? []).map((c, i) =>
        permission(c, `${ppath}.permissions[${i}]`, ctx),
      );
      const principals = (p.principals ?? []).map((c, i) => principal(c, `${ppath}.principals[${i}]`));
      if (permissions.length === 0)
        throw invalid(`${ppath}.permissions`, 'must have at least one permission');
      if (principals.length === 0) throw invalid(`${ppath}.principals`, 'must have at least one principal');
      const matches: Rule = (r) => permissions.some((m) => m(r)) && principals.some((m) => m(r));
      return { name, matches };
    });
  return {
    action,
    decide(request) {
      const hit = policies.find((p) => p.matches(request));
      if (action === 'LOG') return { allowed: true, policy: hit?.name };
      if (action === 'ALLOW') return { allowed: hit !== undefined, policy: hit?.name };
      return { allowed: hit === undefined, policy: hit?.name };
    },
  };
}

function oneOf(config: Record<string, unknown>, path: string, kinds: readonly string[]): string {
  const set = kinds.filter((k) => config[k] !== undefined && config[k] !== null);
  if (set.length !== 1) {
    const unknown = Object.keys(config).filter(
      (k) => !kinds.includes(k) && config[k] !== undefined && config[k] !== null,
    );
    if (unknown.length > 0) throw unsupported(`${path}.${unknown[0]}`, 'is not supported by this proxy');
    throw invalid(path, `expected exactly one of ${kinds.join(', ')}`);
  }
  return set[0]!;
}

const PERMISSION_KINDS = [
  'and_rules',
  'or_rules',
  'any',
  'header',
  'url_path',
  'destination_ip',
  'destination_port',
  'destination_port_range',
  'metadata',
  'not_rule',
  'requested_server_name',
  'uri_template',
] as const;

interface Ctx {
  destinationIp: boolean;
}

function permission(c: PermissionConfig, path: string, ctx: Ctx): Rule {
  const kind = oneOf(c, path, PERMISSION_KINDS);
  switch (kind) {
    case 'and_rules': {
      const rules = (c.and_rules?.rules ?? []).map((r, i) =>
        permission(r, `${path}.and_rules.rules[${i}]`, ctx),
      );
      return (r) => rules.every((m) => m(r));
    }
    case 'or_rules': {
      const rules = (c.or_rules?.rules ?? []).map((r, i) =>
        permission(r, `${path}.or_rules.rules[${i}]`, ctx),
      );
      return (r) => rules.some((m) => m(r));
    }
    case 'any':
      if (c.any !== true) throw invalid(`${path}.any`, 'must be true');
      return () => true;
    case 'header':
      return headerRule(c.header!, `${path}.header`);
    case 'url_path':
      return pathRule(c.url_path!, `${path}.url_path`);
    case 'destination_ip': {
      if (!ctx.destinationIp)
        throw unsupported(
          `${path}.destination_ip`,
          'destination_ip is not supported in HTTP RBAC by this proxy',
        );
      const inRange = cidr(c.destination_ip!, `${path}.destination_ip`);
      return (r) => inRange(r.destinationIp);
    }
    case 'destination_port': {
      const port = c.destination_port!;
      return (r) => r.destinationPort === port;
    }
    case 'destination_port_range': {
      // [start, end): Envoy's Int32Range.
      const start = c.destination_port_range!.start ?? 0;
      const end = c.destination_port_range!.end ?? 0;
      if (end < start) throw invalid(`${path}.destination_port_range`, 'end must not be below start');
      return (r) => r.destinationPort >= start && r.destinationPort < end;
    }
    case 'metadata':
      return metadataRule(c.metadata!, `${path}.metadata`);
    case 'not_rule': {
      const inner = permission(c.not_rule!, `${path}.not_rule`, ctx);
      return (r) => !inner(r);
    }
    case 'uri_template':
      return uriTemplateRule(c.uri_template!, `${path}.uri_template`);
    default: {
      const sni = compileStringMatcher(c.requested_server_name!, `${path}.requested_server_name`);
      return (r) => sni(r.sni ?? '');
    }
  }
}

const PRINCIPAL_KINDS = [
  'and_ids',
  'or_ids',
  'any',
  'authenticated',
  'source_ip',
  'direct_remote_ip',
  'remote_ip',
  'header',
  'url_path',
  'metadata',
  'not_id',
] as const;

function principal(c: PrincipalConfig, path: string): Rule {
  const kind = oneOf(c, path, PRINCIPAL_KINDS);
  switch (kind) {
    case 'and_ids': {
      const ids = (c.and_ids?.ids ?? []).map((p, i) => principal(p, `${path}.and_ids.ids[${i}]`));
      return (r) => ids.every((m) => m(r));
    }
    case 'or_ids': {
      const ids = (c.or_ids?.ids ?? []).map((p, i) => principal(p, `${path}.or_ids.ids[${i}]`));
      return (r) => ids.some((m) => m(r));
    }
    case 'any':
      if (c.any !== true) throw invalid(`${path}.any`, 'must be true');
      return () => true;
    case 'authenticated': {
      const name = c.authenticated!.principal_name;
      // No principal_name: any authenticated (mTLS) peer.
      if (name === undefined || name === null) return (r) => r.principal !== undefined;
      const m = compileStringMatcher(name, `${path}.authenticated.principal_name`);
      return (r) => r.principal !== undefined && m(r.principal);
    }
    case 'source_ip':
    case 'direct_remote_ip': {
      const inRange = cidr(c[kind]!, `${path}.${kind}`);
      return (r) => inRange(r.directRemoteIp);
    }
    case 'remote_ip': {
      const inRange = cidr(c.remote_ip!, `${path}.remote_ip`);
      return (r) => inRange(r.remoteIp);
    }
    case 'header':
      return headerRule(c.header!, `${path}.header`);
    case 'url_path':
      return pathRule(c.url_path!, `${path}.url_path`);
    case 'metadata':
      return metadataRule(c.metadata!, `${path}.metadata`);
    default: {
      const inner = principal(c.not_id!, `${path}.not_id`);
      return (r) => !inner(r);
    }
  }
}

function headerRule(config: HeaderMatcherConfig, path: string): Rule {
  const m = compileHeaderMatcher(config, path);
  return (r) => m(r.headers);
}

/** Outside HTTP there is no path: a path rule never matches (Envoy's network RBAC). */
function pathRule(config: PathMatcherConfig, path: string): Rule {
  if (!config.path) throw invalid(`${path}.path`, 'is required');
  const m: StringPredicate = compileStringMatcher(config.path, `${path}.path`);
  return (r) => r.path !== undefined && m(r.path);
}

function uriTemplateRule(config: NonNullable<PermissionConfig['uri_template']>, path: string): Rule {
  const any = config.typed_config;
  if (!any || any.type_url !== TYPE.uriTemplateMatch)
    throw unsupported(
      `${path}.typed_config`,
      `path matcher ${JSON.stringify(any?.type_url ?? config.name ?? '')} is not supported (${TYPE.uriTemplateMatch} is)`,
    );
  const template = unpackAny<{ path_template?: string }>(any).path_template ?? '';
  const m = compileUriTemplate(template, `${path}.typed_config.path_template`);
  return (r) => r.path !== undefined && m(r.path);
}

/** A CIDR range, IPv4 or IPv6; an IPv4-mapped IPv6 client address is read as IPv4. */
function cidr(config: CidrConfig, path: string): (ip: string) => boolean {
  const address = config.address_prefix ?? '';
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (family === undefined)
    throw invalid(`${path}.address_prefix`, `${JSON.stringify(address)} is not an IP address`);
  const max = family === 'ipv4' ? 32 : 128;
  const len = unwrap(config.prefix_len, max);
  if (!Number.isInteger(len) || len < 0 || len > max)
    throw invalid(`${path}.prefix_len`, `must be 0..${max}`);
  const list = new BlockList();
  list.addSubnet(address, len, family);
  return (ip) => {
    const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    const f = isIPv4(plain) ? 'ipv4' : isIPv6(plain) ? 'ipv6' : undefined;
    return f === family && list.check(plain, f);
  };
}

/**
 * Envoy's MetadataMatcher over dynamic metadata by filter namespace (ext_authz's
 * filter_enabled_metadata reads RBAC's shadow result with it).
 */
export function compileMetadataMatcher(
  config: MetadataMatcherConfig,
  path: string,
): (metadata: Readonly<Record<string, unknown>> | undefined) => boolean {
  const rule = metadataRule(config, path);
  return (metadata) => rule({ metadata } as RbacRequest);
}

export type { MetadataMatcherConfig };

function metadataRule(config: MetadataMatcherConfig, path: string): Rule {
  const filter = config.filter ?? '';
  if (filter === '') throw invalid(`${path}.filter`, 'is required');
  const keys = (config.path ?? []).map((s, i) => {
    if (!s.key) throw invalid(`${path}.path[${i}].key`, 'is required');
    return s.key;
  });
  if (!config.value) throw invalid(`${path}.value`, 'is required');
  const value = valueMatcher(config.value, `${path}.value`);
  const invert = config.invert === true;
  return (r) => {
    let v: unknown = r.metadata?.[filter];
    for (const k of keys)
      v =
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? (v as Record<string, unknown>)[k]
          : undefined;
    return value(v) !== invert;
  };
}

function valueMatcher(config: ValueMatcherConfig, path: string): (v: unknown) => boolean {
  const kind = oneOf(config as Record<string, unknown>, path, [
    'string_match',
    'bool_match',
    'present_match',
    'list_match',
    'null_match',
    'or_match',
  ]);
  switch (kind) {
    case 'string_match': {
      const m = compileStringMatcher(config.string_match!, `${path}.string_match`);
      return (v) => typeof v === 'string' && m(v);
    }
    case 'bool_match':
      return (v) => v === config.bool_match;
    case 'present_match':
      return (v) => (v !== undefined) === (config.present_match === true);
    case 'null_match':
      return (v) => v === null;
    case 'or_match': {
      // Istio's claim matcher: the claim is a list holding the value, or the value itself.
      const ms = (config.or_match?.value_matchers ?? []).map((m, i) =>
        valueMatcher(m, `${path}.or_match.value_matchers[${i}]`),
      );
      if (ms.length < 2) throw invalid(`${path}.or_match.value_matchers`, 'must have at least 2 matchers');
      return (v) => ms.some((m) => m(v));
    }
    default: {
      const one = config.list_match?.one_of;
      if (!one) throw invalid(`${path}.list_match.one_of`, 'is required');
      const m = valueMatcher(one, `${path}.list_match.one_of`);
      return (v) => Array.isArray(v) && v.some((item) => m(item));
    }
  }
}
