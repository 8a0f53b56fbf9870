/**
 * Authorization filters as proxyless gRPC can enforce them (gRFC A41). grpc-js-xds evaluates
 * only part of Envoy's RBAC: a permission or principal it does not implement (uri_template,
 * metadata, requested_server_name, destination_port_range, matcher, filter_state, ...) simply
 * never matches, and a policy's CEL condition is ignored. Under DENY that is a bypass: Istio's
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
  HttpFilter,
  HttpRbac,
  RbacConfig,
  RbacPermission,
  RbacPolicy,
  RbacPrincipal,
} from '../../../protocol/envoy-types.js';
import { TYPE, unpackAny, type AnyLike } from '../../../protocol/protos.js';
import { pack } from '../envoy.js';

/** Permission kinds grpc-js-xds 1.14 evaluates (rbac.ts parsePermission), besides the sets and not. */
const PERMISSION_LEAVES = new Set(['any', 'header', 'url_path', 'destination_ip', 'destination_port']);
/** Principal kinds it evaluates (parsePrincipal), besides the sets and not. */
const PRINCIPAL_LEAVES = new Set([
  'any',
  'authenticated',
  'source_ip',
  'direct_remote_ip',
  'remote_ip',
  'header',
  'url_path',
]);

/** `widen`: the replacement should match everything; otherwise nothing. */
const ALWAYS_PERMISSION: RbacPermission = { any: true };
const NEVER_PERMISSION: RbacPermission = { not_rule: { any: true } };
const ALWAYS_PRINCIPAL: RbacPrincipal = { any: true };
const NEVER_PRINCIPAL: RbacPrincipal = { not_id: { any: true } };

function kindOf(o: object): string | undefined {
  // Decoded oneofs name their member (`rule`, `identifier`); set fields other than it are data.
  const set = Object.entries(o).filter(([, v]) => v !== undefined && v !== null);
  return set.find(([k]) => k !== 'rule' && k !== 'identifier')?.[0];
}

export function grpcPermission(p: RbacPermission, widen: boolean): RbacPermission {
  const kind = kindOf(p);
  if (kind === 'and_rules' || kind === 'or_rules') {
    const rules = (p[kind]?.rules ?? []).map((r) => grpcPermission(r, widen));
    return { [kind]: { rules } };
  }
  if (kind === 'not_rule') return { not_rule: grpcPermission(p.not_rule ?? {}, !widen) };
  if (kind !== undefined && PERMISSION_LEAVES.has(kind)) return p;
  return widen ? ALWAYS_PERMISSION : NEVER_PERMISSION;
}

export function grpcPrincipal(p: RbacPrincipal, widen: boolean): RbacPrincipal {
  const kind = kindOf(p);
  if (kind === 'and_ids' || kind === 'or_ids') {
    const ids = (p[kind]?.ids ?? []).map((r) => grpcPrincipal(r, widen));
    return { [kind]: { ids } };
  }
  if (kind === 'not_id') return { not_id: grpcPrincipal(p.not_id ?? {}, !widen) };
  if (kind !== undefined && PRINCIPAL_LEAVES.has(kind)) return p;
  return widen ? ALWAYS_PRINCIPAL : NEVER_PRINCIPAL;
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
