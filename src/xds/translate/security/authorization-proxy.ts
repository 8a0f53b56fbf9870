/**
 * The security filters of one proxy: what LDS puts first in its inbound (sidecar) or gateway
 * HTTP connection managers, and before the tcp_proxy of its inbound TCP chains. HTTP order, as
 * Istio's listener builder: CUSTOM (shadow RBAC + ext_authz), jwt_authn, then the RBAC filters (AUDIT, DENY,
 * ALLOW).
 * Proxyless gRPC servers take the RBAC filters on their server listeners (proxyless/server-listeners.ts).
 *
 * `key` names every input the filters are built from (the selected policies' fingerprints and
 * the fingerprints of the JWKS they inline), so a policy change moves the LDS key of exactly
 * the proxies it selects, and a JWKS rotation only of those whose policies use that JWKS.
 */
import type { HttpFilter, NetworkFilter } from '../../../protocol/envoy-types.js';
import type { ProxyNode } from '../../proxy-node.js';
import { digest } from '../memo.js';
import type { PushContext } from '../push-context.js';
import { httpAuthorizationFilters, networkAuthorizationFilters } from './authorization-filters.js';
import { providersKey, resolveProvider } from './authorization-ext-authz.js';
import {
  selectAuthorizationPolicies,
  selectRequestAuthentications,
  workloadTarget,
} from './policy-select.js';
import { jwksSourcesOf, jwtAuthentication, jwtAuthnFilter, jwtRulesOf } from './request-authn.js';

export interface ProxySecurity {
  /** '' when nothing applies. */
  readonly key: string;
  /** HTTP filters, in order, that go first in the connection manager. */
  readonly http: readonly HttpFilter[];
  /** Network filters that go before the terminal filter of TCP chains. */
  readonly network: readonly NetworkFilter[];
}

export const NO_SECURITY: ProxySecurity = Object.freeze({ key: '', http: [], network: [] });

export function proxySecurity(push: PushContext, proxy: ProxyNode): ProxySecurity {
  const index = push.index.security;
  if (index.empty) return NO_SECURITY;
  const target = workloadTarget(index, proxy, () =>
    push.index.instancesAt(proxy.ipAddresses).flatMap((ep) => {
      const svc = push.index.service(ep.hostname);
      return svc === undefined ? [] : [{ hostname: svc.hostname, source: svc.source }];
    }),
  );
  if (target === undefined) return NO_SECURITY;
  const facets = `sec|${target.kind}|${target.namespace}|${JSON.stringify(target.labels)}|${target.services.join(',')}|${target.serviceSources.join(',')}`;
  return push.index.perPush(facets, () => {
    const authz = selectAuthorizationPolicies(index, target, push.rootNamespace, push.domainSuffix);
    const authn = selectRequestAuthentications(index, target, push.rootNamespace, push.domainSuffix);
    if (authz.policies.length === 0 && authn.policies.length === 0) return NO_SECURITY;
    const rules = jwtRulesOf(authn.policies);
    const jwksKey = jwksSourcesOf(rules)
      .map((s) => `${s}=${push.security.jwks.fingerprint(s)}`)
      .join(',');
    const customProviders = authz.policies.flatMap((p) =>
      p.spec.action === 'CUSTOM' ? [p.spec.provider?.name ?? ''] : [],
    );
    const providers = providersKey(push, customProviders);
    const key = digest(
      `${target.kind}|authz:${authz.key}|authn:${authn.key}|jwks:${jwksKey}|providers:${providers}`,
    );
    return push.index.cached(`security|${key}`, (): ProxySecurity => {
      const jwt = jwtAuthentication(rules, push.security.jwks, target.kind !== 'sidecar');
      const resolve = (name: string) => resolveProvider(push, name);
      const rbac = httpAuthorizationFilters(authz.policies, resolve);
      return {
        key,
        http: [...rbac.custom, ...(jwt === undefined ? [] : [jwtAuthnFilter(jwt)]), ...rbac.local],
        network: target.kind === 'sidecar' ? networkAuthorizationFilters(authz.policies, resolve) : [],
      };
    });
  });
}
