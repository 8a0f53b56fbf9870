/**
 * Authorization filters as proxyless gRPC can enforce them (gRFC A41). grpc-js-xds evaluates
 * only part of Envoy's RBAC: a permission or principal it does not implement (uri_template,
 * metadata, requested_server_name, destination_port_range, matcher, filter_state, ...) or a
 * string/header match form it lacks (contains_match, custom) simply never matches, and a
 * policy's CEL condition is ignored. Under DENY that is a bypass: Istio's
 * `to.paths: [/pkg.Svc/{*}]` compiles to uri_template, and gRPC would never deny it.
 *
 * So before the filters reach a gRPC server, every construct it cannot evaluate is replaced by
 * what errs on the side of refusing, as Istio does for DENY rules with HTTP-only fields on TCP
 * ports: in a DENY policy it matches everything (more calls denied), in an ALLOW policy nothing
 * (fewer calls allowed); under a not_rule/not_id the two swap. An ALLOW policy with a condition
 * matches nothing; a DENY policy's condition is dropped (matching more). LOG (AUDIT) filters,
 * which gRPC rejects and which never change a decision, are left out, as Istio's grpcgen does;
 * an RBAC filter without rules or matcher enforces nothing and is left out too. Other filters
 * pass unchanged (gRPC rejects the Listener if it does not know them: a visible NACK).
 */
import type {
  HeaderMatcher,
  HttpFilter,
  HttpRbac,
  RbacConfig,
  RbacPermission,
  RbacPolicy,
  RbacPrincipal,
  StringMatcher,
} from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny, type AnyLike } from '../../../protocol/protos.js';
import { pack } from '../envoy.js';

/** String match patterns grpc-js-xds implements (route.ts getPredicateForStringMatcher). */
const STRING_PATTERNS = ['exact', 'prefix', 'suffix', 'safe_regex', 'contains'] as const;
const HEADER_SPECIFIERS = [
  'exact_match',
  'safe_regex_match',
  'range_match',
  'present_match',
  'prefix_match',
  'suffix_match',
  'contains_match',
  'string_match',
] as const;

/** The member set in a oneof: the decoded virtual field when there, else the first field set. */
function member<K extends string>(o: object, virtual: string, keys: readonly K[]): K | undefined {
  const named = (o as Record<string, unknown>)[virtual];
  if (typeof named === 'string') return keys.find((k) => k === named);
  return keys.find((k) => (o as Record<string, unknown>)[k] != null);
}

function stringSupported(m: StringMatcher | null | undefined): boolean {
  // `custom` (or nothing) would never match in gRPC.
  return (
    m != null &&
    member(m, 'match_pattern', [...STRING_PATTERNS, 'custom']) !== 'custom' &&
    member(m, 'match_pattern', STRING_PATTERNS) !== undefined
  );
}

/**
 * The header matcher as gRPC evaluates it the way Envoy does, or undefined when it cannot:
 * contains_match, an unknown string pattern and treat_missing_header_as_empty are not
 * implemented (never match), and `present_match: false` (Envoy: the header is absent) is read
 * as `present_match: true`, so it is rewritten as an inverted presence match.
 */
function grpcHeader(h: HeaderMatcher): HeaderMatcher | undefined {
  if (h.treat_missing_header_as_empty === true) return undefined;
  switch (member(h, 'header_match_specifier', HEADER_SPECIFIERS)) {
    case 'exact_match':
    case 'safe_regex_match':
    case 'range_match':
    case 'prefix_match':
    case 'suffix_match':
      return h;
    case 'present_match':
      return h.present_match === true
        ? h
        : { name: h.name ?? '', present_match: true, invert_match: h.invert_match !== true };
    case 'string_match':
      return stringSupported(h.string_match) ? h : undefined;
    default:
      return undefined;
  }
}

/** `widen`: the replacement should match everything; otherwise nothing. */
const ALWAYS_PERMISSION: RbacPermission = { any: true };
const NEVER_PERMISSION: RbacPermission = { not_rule: { any: true } };
const ALWAYS_PRINCIPAL: RbacPrincipal = { any: true };
const NEVER_PRINCIPAL: RbacPrincipal = { not_id: { any: true } };

const PERMISSION_KINDS = [
  'and_rules',
  'or_rules',
  'not_rule',
  'any',
  'header',
  'url_path',
  'destination_ip',
  'destination_port',
  'destination_port_range',
  'metadata',
  'requested_server_name',
  'matcher',
  'uri_template',
] as const;

const PRINCIPAL_KINDS = [
  'and_ids',
  'or_ids',
  'not_id',
  'any',
  'authenticated',
  'source_ip',
  'direct_remote_ip',
  'remote_ip',
  'header',
  'url_path',
  'metadata',
  'filter_state',
] as const;

/** A leaf gRPC evaluates as Envoy does (possibly rewritten), or undefined. */
function permissionLeaf(p: RbacPermission): RbacPermission | undefined {
  switch (member(p, 'rule', PERMISSION_KINDS)) {
    case 'any':
    case 'destination_ip':
    case 'destination_port':
      return p;
    case 'header': {
      const h = p.header == null ? undefined : grpcHeader(p.header);
      return h === undefined ? undefined : { header: h };
    }
    case 'url_path':
      return stringSupported(p.url_path?.path) ? p : undefined;
    default:
      // metadata, requested_server_name (gRPC compares ''), destination_port_range, matcher,
      // uri_template, and kinds newer than this list: never matched by gRPC.
      return undefined;
  }
}

function principalLeaf(p: RbacPrincipal): RbacPrincipal | undefined {
  switch (member(p, 'identifier', PRINCIPAL_KINDS)) {
    case 'any':
    case 'source_ip':
    case 'direct_remote_ip':
    case 'remote_ip':
      return p;
    case 'authenticated':
      return p.authenticated?.principal_name == null || stringSupported(p.authenticated.principal_name)
        ? p
        : undefined;
    case 'header': {
      const h = p.header == null ? undefined : grpcHeader(p.header);
      return h === undefined ? undefined : { header: h };
    }
    case 'url_path':
      return stringSupported(p.url_path?.path) ? p : undefined;
    default:
      return undefined;
  }
}

export function grpcPermission(p: RbacPermission, widen: boolean): RbacPermission {
  const kind = member(p, 'rule', PERMISSION_KINDS);
  if (kind === 'and_rules' || kind === 'or_rules') {
    const rules = (p[kind]?.rules ?? []).map((r) => grpcPermission(r, widen));
    return { [kind]: { rules } };
  }
  if (kind === 'not_rule') return { not_rule: grpcPermission(p.not_rule ?? {}, !widen) };
  return permissionLeaf(p) ?? (widen ? ALWAYS_PERMISSION : NEVER_PERMISSION);
}

export function grpcPrincipal(p: RbacPrincipal, widen: boolean): RbacPrincipal {
  const kind = member(p, 'identifier', PRINCIPAL_KINDS);
  if (kind === 'and_ids' || kind === 'or_ids') {
    const ids = (p[kind]?.ids ?? []).map((r) => grpcPrincipal(r, widen));
    return { [kind]: { ids } };
  }
  if (kind === 'not_id') return { not_id: grpcPrincipal(p.not_id ?? {}, !widen) };
  return principalLeaf(p) ?? (widen ? ALWAYS_PRINCIPAL : NEVER_PRINCIPAL);
}

function grpcPolicy(policy: RbacPolicy, deny: boolean): RbacPolicy {
  const conditional = policy.condition != null || policy.checked_condition != null;
  if (conditional && !deny) return { permissions: [NEVER_PERMISSION], principals: [NEVER_PRINCIPAL] };
  return {
    permissions: (policy.permissions ?? []).map((p) => grpcPermission(p, deny)),
    principals: (policy.principals ?? []).map((p) => grpcPrincipal(p, deny)),
  };
}

/** The rules as gRPC should get them; undefined for LOG rules (left out). */
export function grpcRbacRules(rules: RbacConfig): RbacConfig | undefined {
  const action = rules.action ?? 'ALLOW';
  if (action === 'LOG') return undefined;
  const deny = action === 'DENY';
  const policies = Object.fromEntries(
    Object.entries(rules.policies ?? {}).map(([name, policy]) => [name, grpcPolicy(policy, deny)]),
  );
  return { action, policies };
}

/** The server's authorization filters made safe for gRPC (see the module comment). */
export function grpcAuthzFilters(filters: readonly HttpFilter[]): HttpFilter[] {
  const out: HttpFilter[] = [];
  for (const f of filters) {
    const any = f.typed_config as AnyLike | null | undefined;
    if (any?.type_url !== TYPE.rbac) {
      out.push(f);
      continue;
    }
    const config = unpackAny<HttpRbac>(any);
    if (config.rules == null) {
      // No rules and no matcher: Envoy enforces nothing. A matcher gRPC cannot read: keep it
      // so the Listener is refused rather than served without it.
      if (config.matcher != null) out.push(f);
      continue;
    }
    const rules = grpcRbacRules(config.rules);
    if (rules !== undefined) out.push({ name: f.name ?? '', typed_config: pack(TYPE.rbac, { rules }) });
  }
  return out;
}
