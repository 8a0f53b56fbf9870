/**
 * The mesh every fuzz case runs against: a proxy whose listener on 9080 has one route, prefix
 * `/public`, to a recording HTTP/1.1 backend, and a connection manager as Istio configures a
 * sidecar's (websocket upgrades; normalize_path, for mesh config pathNormalization BASE).
 */
import { TYPE, packAny } from '../../src/protocol/protos.js';
import { FakeAds } from '../../src/proxy/testing/fake-ads.js';
import { startMesh } from '../../src/proxy/testing/harness.js';
import {
  edsCluster,
  endpoints,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../src/proxy/testing/resources.js';
import { startRecordingBackend } from './recording-backend.js';

const C = 'outbound|9080||app.default.svc.cluster.local';

/** httpListener() has no normalize_path: the HCM is built here. */
function fuzzListener(port: number): object {
  const hcm = {
    stat_prefix: `outbound_0.0.0.0_${port}`,
    rds: { route_config_name: String(port), config_source: { ads: {} } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) }],
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    normalize_path: { value: true },
  };
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          { name: 'envoy.filters.network.http_connection_manager', typed_config: packAny(TYPE.hcm, hcm) },
        ],
      },
    ],
  };
}

export async function startFuzzMesh() {
  const backend = await startRecordingBackend();
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C)],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [fuzzListener(9080)],
      RDS: [routeConfig('9080', [virtualHost('app', ['*'], [routeTo(C, { prefix: '/public' })])])],
    },
    {},
    FakeAds,
  );
  return {
    backend,
    mesh,
    close: async () => {
      try {
        await mesh.close();
      } finally {
        await backend.close();
      }
    },
  };
}
