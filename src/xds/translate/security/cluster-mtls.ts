/**
 * The push's inputs to auto mTLS for one destination service (see mtls-auto.ts), and a key
 * naming them for every service a proxy sees, for CDS keys.
 */
import type { Service } from '../../../registry/types.js';
import { digest } from '../memo.js';
import type { PushContext } from '../push-context.js';
import type { ProxyScope } from '../scope.js';
import { spiffeIdentity, TLS_MODE_ISTIO, TLS_MODE_LABEL, type UpstreamMtlsFacts } from './mtls-auto.js';
import { meshMtlsDefaults } from './peer-authn.js';

/**
 * The SPIFFE identities of a service's workloads (its endpoints' service accounts), sorted:
 * Istio's ServiceAccounts(host), what ISTIO_MUTUAL checks the server certificate against when
 * the DestinationRule lists no subjectAltNames. Endpoints without a service account add none; a
 * service with none at all is not checked by SAN (only by the trust bundle).
 */
export function serviceIdentities(push: PushContext, hostname: string): readonly string[] {
  // Across pushes while the endpoints stay the same (the trust domain is fixed along a lineage).
  const fp = push.index.endpointsFingerprint(hostname);
  return push.index.cached(`identities|${hostname}|${fp}`, () => {
    const ids = new Set<string>();
    for (const ep of push.index.endpoints(hostname)) {
      if (ep.serviceAccount !== undefined && ep.serviceAccount !== '')
        ids.add(spiffeIdentity(push.trustDomain, ep.namespace, ep.serviceAccount));
    }
    return Object.freeze([...ids].sort());
  });
}

/** Whether a service has endpoints and all of them carry `security.istio.io/tlsMode: istio`. */
export function allEndpointsMeshed(push: PushContext, hostname: string): boolean {
  const fp = push.index.endpointsFingerprint(hostname);
  return push.index.cached(`meshed|${hostname}|${fp}`, () => {
    const eps = push.index.endpoints(hostname);
    return eps.length > 0 && eps.every((ep) => ep.labels[TLS_MODE_LABEL] === TLS_MODE_ISTIO);
  });
}

export function upstreamMtlsFacts(push: PushContext, service: Service): UpstreamMtlsFacts {
  return {
    autoMtls: push.autoMtls,
    allEndpointsMeshed: allEndpointsMeshed(push, service.hostname),
    meshExternal: service.location === 'MESH_EXTERNAL',
    // No policy for the namespace: the mesh default (what its workloads' listeners then take).
    serviceMode:
      push.index.peerAuthentications.namespaceMode(meshMtlsDefaults(push), service.namespace) ??
      push.defaultMtlsMode,
    identities: serviceIdentities(push, service.hostname),
  };
}

/**
 * Everything auto mTLS reads for the services of a scope (per push): each service's namespace
 * mode, identities and whether all its endpoints have sidecars. autoMtls, the trust domain and the default mode are push options (fixed
 * along a memo's lineage), so they need no place here.
 */
export function upstreamMtlsKey(push: PushContext, scope: ProxyScope): string {
  return push.index.perPush(`mtlskey|${scope.key}`, () =>
    digest(
      scope.services
        .map((s) => {
          const f = upstreamMtlsFacts(push, s);
          const mode = f.meshExternal ? 'ext' : (f.serviceMode ?? '-');
          return `${s.hostname}=${mode}:${f.allEndpointsMeshed ? 'm' : ''}:${f.identities.join(' ')}`;
        })
        .join(','),
    ),
  );
}
