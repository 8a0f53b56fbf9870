import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateBootstrapConfig } from '@grpc/grpc-js-xds/build/src/xds-bootstrap.js';
import { certFilePaths } from './cert-files.js';
import { grpcBootstrap, refreshIntervalFor } from './grpc-bootstrap.js';

const workload = {
  namespace: 'shop',
  workloadName: 'cart',
  labels: { app: 'cart' },
  instanceIps: ['10.0.0.7', '10.0.0.8'],
  locality: '',
};

test("Istio's proxyless bootstrap: xDS server, GENERATOR=grpc node, server template, file_watcher provider", () => {
  const b = grpcBootstrap({
    workload,
    xdsAddress: '127.0.0.1:15010',
    certFiles: certFilePaths('/var/lib/istio/data'),
    refreshSeconds: 900,
  });
  assert.deepEqual(b, {
    xds_servers: [
      { server_uri: '127.0.0.1:15010', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: {
      id: 'grpc~10.0.0.7~cart.shop~shop.svc.cluster.local',
      locality: {},
      metadata: {
        NAMESPACE: 'shop',
        WORKLOAD_NAME: 'cart',
        LABELS: { app: 'cart' },
        INSTANCE_IPS: '10.0.0.7,10.0.0.8',
        GENERATOR: 'grpc',
      },
    },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
    certificate_providers: {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: '/var/lib/istio/data/cert-chain.pem',
          private_key_file: '/var/lib/istio/data/key.pem',
          ca_certificate_file: '/var/lib/istio/data/root-cert.pem',
          refresh_interval: '900s',
        },
      },
    },
  });
  // grpc-js-xds's own bootstrap parser takes it.
  const parsed = validateBootstrapConfig(b) as {
    certificateProviders: Record<string, { config: { refreshIntervalMs: number } }>;
  };
  assert.equal(parsed.certificateProviders.default?.config.refreshIntervalMs, 900_000);
  const defaults = grpcBootstrap({ workload, xdsAddress: 'cp:15010', certFiles: certFilePaths('/d') }) as {
    certificate_providers: { default: { config: { refresh_interval: string } } };
  };
  assert.equal(defaults.certificate_providers.default.config.refresh_interval, '900s', "Istio's default");
  const plain = grpcBootstrap({ workload, xdsAddress: 'cp:15010', nodeId: 'grpc~x' });
  assert.equal('certificate_providers' in plain, false);
  validateBootstrapConfig(plain);
});

test('the file watcher re-reads at a tenth of the lifetime, between 1 s and 15 min', () => {
  const cases: [number, number][] = [
    [0, 1],
    [4_000, 1],
    [19_999, 1],
    [20_000, 2],
    [3_600_000, 360],
    [9_000_000, 900],
    [86_400_000, 900],
  ];
  for (const [lifetime, seconds] of cases)
    assert.equal(refreshIntervalFor(lifetime), seconds, String(lifetime));
});
