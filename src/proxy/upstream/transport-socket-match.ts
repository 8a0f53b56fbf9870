/**
 * Which transport socket a connection to an endpoint uses, as Envoy decides it: the cluster's
 * transport_socket_matches in order, the first whose `match` fields all equal the endpoint's
 * `envoy.transport_socket_match` metadata (an empty match takes every endpoint), else the
 * cluster's transport_socket. Istio's auto mTLS is this: `{tlsMode: istio}` endpoints (with a
 * sidecar) get mTLS, the others plain text. Pure; table-tested.
 */
import type { ClusterConfig, Endpoint, UpstreamTlsConfig } from '../model/config.js';

export function upstreamTlsFor(
  cluster: Pick<ClusterConfig, 'tls' | 'transportSocketMatches'>,
  endpoint: Pick<Endpoint, 'transportSocketMatch'>,
): UpstreamTlsConfig | undefined {
  const matches = cluster.transportSocketMatches;
  if (matches !== undefined) {
    const metadata = endpoint.transportSocketMatch ?? {};
    for (const m of matches) {
      let all = true;
      for (const key in m.match) {
        if (!Object.is(metadata[key], m.match[key])) {
          all = false;
          break;
        }
      }
      if (all) return m.tls;
    }
  }
  return cluster.tls;
}
