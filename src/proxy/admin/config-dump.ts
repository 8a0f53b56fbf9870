/**
 * Envoy's /config_dump shape (envoy.admin.v3.ConfigDump) built from the accepted resources:
 * one entry per type with dynamic_active_clusters / dynamic_endpoint_configs / dynamic_listeners
 * / dynamic_route_configs / dynamic_active_secrets, each with version_info and last_updated.
 * Secrets are redacted as Envoy's admin does (private keys become "[redacted]"); secrets that
 * listeners reference but that have not arrived are listed as dynamic_warming_secrets. Printed as proto3 JSON
 * (camelCase names, as protojson and `istioctl proxy-config` read them).
 */
import { anyToJson } from '../../protocol/protos.js';
import { REDACTED, redactSecretJson } from '../../protocol/redact.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import type { ProxyConfigSnapshot, RawResource } from '../model/config.js';
import type { NodeMsg } from '../xds-client/bootstrap.js';
import { referencedSecretNames } from '../model/convert-tls.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

function time(ms: number): string {
  return new Date(ms).toISOString();
}

function sorted(map: ReadonlyMap<string, RawResource>): RawResource[] {
  return [...map.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function configDump(
  snapshot: ProxyConfigSnapshot,
  node: NodeMsg,
  workload?: WorkloadCertificate,
): Record<string, unknown> {
  return {
    configs: [
      {
        '@type': `${ADMIN}BootstrapConfigDump`,
        bootstrap: { node: { id: node.id, cluster: node.cluster, userAgentName: node.user_agent_name } },
      },
      {
        '@type': `${ADMIN}ClustersConfigDump`,
        versionInfo: snapshot.versions.CDS,
        dynamicActiveClusters: sorted(snapshot.raw.CDS).map((r) => ({
          versionInfo: r.version,
          cluster: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
      {
        '@type': `${ADMIN}EndpointsConfigDump`,
        dynamicEndpointConfigs: sorted(snapshot.raw.EDS).map((r) => ({
          versionInfo: r.version,
          endpointConfig: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
      {
        '@type': `${ADMIN}ListenersConfigDump`,
        versionInfo: snapshot.versions.LDS,
        dynamicListeners: sorted(snapshot.raw.LDS).map((r) => ({
          name: r.name,
          activeState: {
            versionInfo: r.version,
            listener: anyToJson(r.resource),
            lastUpdated: time(r.lastUpdatedMs),
          },
        })),
      },
      {
        '@type': `${ADMIN}RoutesConfigDump`,
        dynamicRouteConfigs: sorted(snapshot.raw.RDS).map((r) => ({
          versionInfo: r.version,
          routeConfig: anyToJson(r.resource),
          lastUpdated: time(r.lastUpdatedMs),
        })),
      },
      {
        '@type': `${ADMIN}SecretsConfigDump`,
        dynamicActiveSecrets: [
          ...workloadSecrets(workload),
          ...sorted(snapshot.raw.SDS).map((r) => ({
            name: r.name,
            versionInfo: r.version,
            lastUpdated: time(r.lastUpdatedMs),
            secret: redactSecretJson(anyToJson(r.resource)),
          })),
        ],
        dynamicWarmingSecrets: warmingSecrets(snapshot).map((name) => ({ name })),
      },
    ],
  };
}

/**
 * The workload's own secrets as Envoy shows those it got from Istio's agent over `sds-grpc`:
 * `default` (the chain, and the key as "[redacted]") and `ROOTCA` (the trust bundle), versioned
 * by the certificate's notBefore so a rotation shows.
 */
function workloadSecrets(cert: WorkloadCertificate | undefined): Record<string, unknown>[] {
  if (cert === undefined) return [];
  const version = cert.notBefore.toISOString();
  const bytes = (text: string) => Buffer.from(text).toString('base64');
  const entry = (name: string, secret: Record<string, unknown>) => ({
    name,
    versionInfo: version,
    lastUpdated: version,
    secret: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
      name,
      ...secret,
    },
  });
  return [
    entry('default', {
      tlsCertificate: {
        certificateChain: { inlineBytes: bytes(cert.certChainPem) },
        privateKey: { inlineBytes: bytes(REDACTED) },
      },
    }),
    entry('ROOTCA', { validationContext: { trustedCa: { inlineBytes: bytes(cert.rootCertsPem) } } }),
  ];
}

/** Secrets the listeners name that have not been received (their listeners are warming). */
function warmingSecrets(snapshot: ProxyConfigSnapshot): string[] {
  const names = new Set<string>();
  for (const l of snapshot.listeners.values())
    for (const n of referencedSecretNames(l)) if (!snapshot.secrets.has(n)) names.add(n);
  return [...names].sort();
}
