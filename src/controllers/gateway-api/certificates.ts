/**
 * A terminating listener's certificateRefs as Istio reads them: each ref a Secret in the Gateway's
 * namespace, or in another one a ReferenceGrant there opens to Gateways (checked before the Secret
 * is looked up, so status never says whether a Secret it may not see exists). Up to two
 * certificates (Istio's limit: one RSA and one ECDSA, the proxy offering the one a client's
 * signature algorithms accept); refs that do not resolve are reported while the valid ones are
 * still served.
 */
import type { KubernetesGateway, Listener, ObjectReference } from '../../api/gateway/types.js';
import type { Resource } from '../../api/resource.js';
import type { ConfigSnapshot } from '../../config/types.js';
import { CORE_GROUP_NAMES, type ReferenceGrants } from './references.js';

const GW_GROUP = 'gateway.networking.k8s.io';
/** Istio's limit on a server's certificates (one per key type). */
export const MAX_CERTIFICATES = 2;

/** Name of the copy of a Secret granted from another namespace, made in the Gateway's namespace. */
export function grantedSecretName(namespace: string, name: string): string {
  return `gwapi.${namespace}.${name}`;
}

export interface CertificatesResult {
  /** SDS credential names of the refs that resolve, in order. */
  credentialNames: string[];
  /** The first ref that does not (ResolvedRefs=False), every message joined. */
  problem?: { reason: string; message: string };
}

type One = { ok: true; credentialName: string } | { ok: false; reason: string; message: string };

export function certificates(
  gw: KubernetesGateway,
  l: Listener,
  snapshot: ConfigSnapshot,
  grants: ReferenceGrants,
  copies: Resource[],
): CertificatesResult {
  const refs = l.tls?.certificateRefs ?? [];
  if (refs.length === 0)
    return {
      credentialNames: [],
      problem: { reason: 'InvalidCertificateRef', message: 'tls.certificateRefs is empty' },
    };
  if (refs.length > MAX_CERTIFICATES)
    return {
      credentialNames: [],
      problem: {
        reason: 'InvalidCertificateRef',
        message: `${refs.length} certificateRefs: a listener serves at most ${MAX_CERTIFICATES} certificates (one RSA, one ECDSA)`,
      },
    };
  const names: string[] = [];
  const failed: { reason: string; message: string }[] = [];
  for (const ref of refs) {
    const one = certificate(gw, ref, snapshot, grants, copies);
    if (one.ok) names.push(one.credentialName);
    else failed.push(one);
  }
  const [first] = failed;
  return {
    credentialNames: names,
    ...(first !== undefined
      ? { problem: { reason: first.reason, message: failed.map((f) => f.message).join('; ') } }
      : {}),
  };
}

function certificate(
  gw: KubernetesGateway,
  ref: ObjectReference,
  snapshot: ConfigSnapshot,
  grants: ReferenceGrants,
  copies: Resource[],
): One {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Secret';
  if (!CORE_GROUP_NAMES.has(group) || kind !== 'Secret') {
    return {
      ok: false,
      reason: 'InvalidCertificateRef',
      message: `certificateRef ${kind} ${ref.name}: only Secrets (group "") hold certificates`,
    };
  }
  const ns = ref.namespace ?? gw.metadata.namespace;
  if (
    !grants.allows(
      { group: GW_GROUP, kind: 'Gateway', namespace: gw.metadata.namespace },
      { group: '', kind: 'Secret', namespace: ns, name: ref.name },
    )
  ) {
    return {
      ok: false,
      reason: 'RefNotPermitted',
      message: `certificateRef Secret ${ns}/${ref.name} is in another namespace and no ReferenceGrant in ${ns} allows Gateways from ${gw.metadata.namespace}`,
    };
  }
  const secret = snapshot.get('Secret', ns, ref.name);
  if (secret === undefined) {
    return {
      ok: false,
      reason: 'InvalidCertificateRef',
      message: `Secret ${ns}/${ref.name} not found; apply it (type kubernetes.io/tls with tls.crt and tls.key)`,
    };
  }
  if (ns === gw.metadata.namespace) return { ok: true, credentialName: ref.name };
  // The gateway's proxy reads credentials from its own namespace (Istio's rule): a granted
  // Secret from elsewhere is served there under a name of its own.
  const name = grantedSecretName(ns, ref.name);
  if (!copies.some((c) => c.metadata.name === name && c.metadata.namespace === gw.metadata.namespace))
    copies.push({ ...secret, metadata: { ...secret.metadata, name, namespace: gw.metadata.namespace } });
  return { ok: true, credentialName: name };
}
