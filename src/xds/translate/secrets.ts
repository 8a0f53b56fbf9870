/**
 * SDS: the TLS credentials of gateway servers, from Kubernetes `Secret` resources (see
 * src/api/kubernetes/secret.ts), as Istio serves them to its gateways:
 *
 * - `NAME` (a server's credentialName): `tls_certificate` with the certificate chain and key;
 * - `NAME-cacert` (MUTUAL servers): `validation_context` with the CA certificates of the
 *   Secret `NAME-cacert` if there is one, else those of `NAME` (`ca.crt` / `cacert`).
 *
 * Secrets are read from the gateway proxy's own namespace, and a proxy gets only the names its
 * Gateway servers reference (Istio's rule: a gateway reads its namespace's credentials, and
 * nothing else is handed out). A name whose Secret is missing or holds no usable credential is
 * left out of the response, so the proxy keeps that listener warming, as Envoy does.
 */
import type { Secret } from '../../protocol/envoy-types.js';
import { SECRET_KIND, tlsCredential, type SecretSpec } from '../../api/kubernetes/secret.js';
import type { Resource } from '../../api/resource.js';
import type { ProxyNode } from '../proxy-node.js';
import { memoized, type TypeGenerator } from './generators.js';
import { CA_SECRET_SUFFIX, serverSecrets } from './listener.js';
import { fingerprint } from './memo.js';
import type { PushContext } from './push-context.js';
import { gatewayServers, selectGateways } from './virtual-services.js';

/** The SDS names the proxy's Gateway servers reference, sorted. */
export function referencedSecretNames(push: PushContext, proxy: ProxyNode): string[] {
  if (proxy.type !== 'router') return [];
  const names = new Set<string>();
  for (const s of gatewayServers(selectGateways(push, proxy)))
    for (const n of serverSecrets(s.server)) names.add(n);
  return [...names].sort();
}

function secretIn(push: PushContext, namespace: string, name: string): Resource<SecretSpec> | undefined {
  return push.index.config.get(SECRET_KIND, namespace, name) as Resource<SecretSpec> | undefined;
}

/** The Secrets one SDS name reads (for the key), most specific first. */
function sources(push: PushContext, namespace: string, name: string): Resource<SecretSpec>[] {
  const out: Resource<SecretSpec>[] = [];
  const own = secretIn(push, namespace, name);
  if (own !== undefined) out.push(own);
  if (name.endsWith(CA_SECRET_SUFFIX) && own === undefined) {
    const base = secretIn(push, namespace, name.slice(0, -CA_SECRET_SUFFIX.length));
    if (base !== undefined) out.push(base);
  }
  return out;
}

/**
 * The Envoy Secret for one name, or undefined when no Secret provides it. A `-cacert` name is
 * always a CA, as in Istio (a credentialName ending in `-cacert` cannot hold a server key).
 */
export function buildSecret(name: string, from: readonly Resource<SecretSpec>[]): Secret | undefined {
  const credential = from.length > 0 ? tlsCredential(from[0]!.spec) : undefined;
  if (name.endsWith(CA_SECRET_SUFFIX)) {
    const ca = credential?.caCertificates;
    return ca === undefined ? undefined : { name, validation_context: { trusted_ca: { inline_bytes: ca } } };
  }
  if (credential?.certificateChain === undefined || credential.privateKey === undefined) return undefined;
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_bytes: credential.certificateChain },
      private_key: { inline_bytes: credential.privateKey },
    },
  };
}

function sdsKey(push: PushContext, proxy: ProxyNode): { key: string; names: string[] } {
  const names = referencedSecretNames(push, proxy);
  if (names.length === 0) return { key: 'sds', names };
  const inputs = names.map((n) => `${n}=${sources(push, proxy.namespace, n).map(fingerprint).join('+')}`);
  return { key: `sds|${proxy.namespace}|${inputs.join(',')}`, names };
}

export const sds: TypeGenerator<Secret> = {
  key(push, proxy) {
    return sdsKey(push, proxy).key;
  },
  generate(push, proxy, requested) {
    const { key, names } = sdsKey(push, proxy);
    return memoized(push, key, requested, () => {
      const out = new Map<string, Secret>();
      for (const name of names) {
        const secret = buildSecret(name, sources(push, proxy.namespace, name));
        if (secret !== undefined) out.set(name, secret);
      }
      return out;
    });
  },
};
