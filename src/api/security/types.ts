/**
 * Istio `security.istio.io` resource specs (PeerAuthentication, AuthorizationPolicy,
 * RequestAuthentication), with the field names exactly as Istio's YAML writes them (see
 * https://istio.io/latest/docs/reference/config/security/). As in networking/types.ts, every
 * field is optional unless Istio requires it; the validators (validate-*.ts) guarantee the rest.
 */

export const SECURITY_GROUP = 'security.istio.io';
/** Accepted as written; the first is the preferred (newest) one. */
export const SECURITY_VERSIONS = ['v1', 'v1beta1'] as const;

// ---------------------------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------------------------

/** Istio's type.v1beta1.WorkloadSelector: the pods/VMs in the policy's namespace it applies to. */
export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/**
 * Istio's type.v1beta1.PolicyTargetReference: a Service (group ""), a ServiceEntry
 * (networking.istio.io), a Gateway or GatewayClass (gateway.networking.k8s.io), in the policy's
 * own namespace.
 */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  /** Must be empty: Istio does not support cross-namespace references. */
  namespace?: string;
}

// ---------------------------------------------------------------------------------------------
// PeerAuthentication
// ---------------------------------------------------------------------------------------------

/** UNSET inherits from the parent policy (namespace, then mesh); PERMISSIVE when none sets it. */
export type MutualTLSMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface MutualTLS {
  mode?: MutualTLSMode;
}

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: MutualTLS;
  /** Keyed by the workload's port number as a string ("8080"); needs a selector with labels. */
  portLevelMtls?: Record<string, MutualTLS>;
}

// ---------------------------------------------------------------------------------------------
// AuthorizationPolicy
// ---------------------------------------------------------------------------------------------

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  /** Default ALLOW. */
  action?: AuthorizationAction;
  /** Only with action CUSTOM: the extension provider (meshConfig.extensionProviders) by name. */
  provider?: ExtensionProvider;
  /** Absent or empty: ALLOW denies everything; DENY and CUSTOM are invalid without rules. */
  rules?: AuthorizationRule[];
}

export interface ExtensionProvider {
  name?: string;
}

/** A rule matches when every set field matches: any `from`, any `to`, and every `when`. */
export interface AuthorizationRule {
  from?: RuleFrom[];
  to?: RuleTo[];
  when?: Condition[];
}

export interface RuleFrom {
  source: Source;
}

/**
 * Request source. Values are exact, prefix (`abc*`), suffix (`*abc`) or presence (`*`)
 * matches, except the IP blocks (IP or CIDR) and service accounts (exact).
 */
export interface Source {
  /** Peer identities from mTLS, e.g. `cluster.local/ns/default/sa/productpage`. */
  principals?: string[];
  notPrincipals?: string[];
  /** JWT identities, `ISSUER/SUBJECT`. */
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  /** `NAME` (the policy's namespace) or `NAMESPACE/NAME`; not together with principals or namespaces. */
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
  /** The peer's address. */
  ipBlocks?: string[];
  notIpBlocks?: string[];
  /** The original client's address (X-Forwarded-For or PROXY protocol). */
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface RuleTo {
  operation: Operation;
}

export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  /** Port numbers as strings ("8080"). */
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  /** Exact, `prefix*`, `*suffix`, `*`, or a template with `{*}` / `{**}` segments. */
  paths?: string[];
  notPaths?: string[];
}

/** A condition on an attribute, e.g. `request.headers[version]`, `source.ip`. */
export interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

// ---------------------------------------------------------------------------------------------
// RequestAuthentication
// ---------------------------------------------------------------------------------------------

export interface RequestAuthenticationSpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  jwtRules?: JWTRule[];
}

export interface JWTRule {
  /** Required unless jwksUri is set (Istio's rule). */
  issuer?: string;
  audiences?: string[];
  /** An http:// or https:// URL; not together with jwks. */
  jwksUri?: string;
  /** The protobuf JSON spelling of jwksUri; Istio's CRD accepts both. */
  jwks_uri?: string;
  /** An inline JSON Web Key Set; not together with jwksUri. */
  jwks?: string;
  fromHeaders?: JWTHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: ClaimToHeader[];
  /** Duration string for fetching the JWKS, at least 1ms. */
  timeout?: string;
  spaceDelimitedClaims?: string[];
}

export interface JWTHeader {
  name: string;
  /** e.g. `Bearer `; stripped before the token is read. */
  prefix?: string;
}

export interface ClaimToHeader {
  header: string;
  claim: string;
}
