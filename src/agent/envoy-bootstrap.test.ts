import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkEnvoyBootstrapJson,
  envoyBootstrap,
  renderEnvoyBootstrap,
  type EnvoyBootstrapOptions,
} from './envoy-bootstrap.js';

const options: EnvoyBootstrapOptions = {
  workload: {
    namespace: 'shop',
    workloadName: 'cart',
    labels: { app: 'cart' },
    instanceIps: ['10.0.0.7'],
    locality: 'eu/z1/',
  },
  xds: { host: '127.0.0.1', port: 15010 },
  sdsSocket: './var/run/secrets/workload-spiffe-uds/socket',
};

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function rendered(o: EnvoyBootstrapOptions = options): J {
  return JSON.parse(renderEnvoyBootstrap(o)) as J;
}

test("the bootstrap has Istio's shape: node, ADS over xds-grpc, sds-grpc over the socket with HTTP/2", () => {
  const b = rendered();
  assert.equal(b.node.id, 'sidecar~10.0.0.7~cart.shop~shop.svc.cluster.local');
  assert.equal(b.node.cluster, 'cart.shop');
  assert.deepEqual(b.node.locality, { region: 'eu', zone: 'z1' });
  assert.deepEqual(b.node.metadata, {
    NAMESPACE: 'shop',
    WORKLOAD_NAME: 'cart',
    LABELS: { app: 'cart' },
    INSTANCE_IPS: '10.0.0.7',
    PROXY_TYPE: 'sidecar',
  });
  assert.deepEqual(b.dynamic_resources.ads_config, {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }],
    set_node_on_first_message_only: true,
  });
  assert.deepEqual(b.dynamic_resources.lds_config, {
    ads: {},
    initial_fetch_timeout: '0s',
    resource_api_version: 'V3',
  });
  const [sds, xds] = b.static_resources.clusters as J[];
  assert.equal(sds?.name, 'sds-grpc');
  assert.deepEqual(sds?.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, {
    pipe: { path: './var/run/secrets/workload-spiffe-uds/socket' },
  });
  const h2 = sds?.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.deepEqual(h2, {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  });
  assert.equal(xds?.name, 'xds-grpc');
  assert.equal(xds?.type, 'STATIC');
  assert.equal(xds?.connect_timeout, '1s');
  assert.deepEqual(b.admin.address, { socket_address: { address: '127.0.0.1', port_value: 15000 } });
});

test('a control plane named by host name is resolved by DNS (STRICT_DNS); ids and ports can be set', () => {
  const b = rendered({
    ...options,
    xds: { host: 'istiod.example', port: 15012 },
    nodeId: 'sidecar~x~y.z~z.svc',
    adminPort: 15100,
  });
  const xds = (b.static_resources.clusters as J[]).find((c) => c.name === 'xds-grpc');
  assert.equal(xds?.type, 'STRICT_DNS');
  assert.equal(b.node.id, 'sidecar~x~y.z~z.svc');
  assert.equal(b.admin.address.socket_address.port_value, 15100);
});

test('what Envoy would refuse is caught, with the field path and the likely fix', () => {
  const good = renderEnvoyBootstrap(options);
  const edit = (f: (b: J) => void) => {
    const b = JSON.parse(good) as J;
    f(b);
    return JSON.stringify(b);
  };
  const cases: [string, string, RegExp][] = [
    [
      'a misspelt field',
      edit((b) => {
        b.static_resources.clusters[0].conect_timeout = '1s';
      }),
      /Bootstrap\.static_resources\.clusters\[0\]\.conect_timeout: unknown field \(did you mean connect_timeout\?\)/,
    ],
    [
      'an unknown enum name',
      edit((b) => void (b.static_resources.clusters[1].type = 'STRICTDNS')),
      /clusters\[1\]\.type: expected one of STATIC, STRICT_DNS/,
    ],
    [
      'a malformed duration',
      edit((b) => void (b.static_resources.clusters[0].connect_timeout = '1 second')),
      /connect_timeout: expected a duration such as "1s"/,
    ],
    [
      'a string for a number',
      edit((b) => void (b.admin.address.socket_address.port_value = '15000x')),
      /port_value: expected a whole number/,
    ],
    [
      'a typed config of an unknown type',
      edit((b) => void (b.admin.access_log[0].typed_config['@type'] = 'type.googleapis.com/envoy.Nope')),
      /access_log\[0\]\.typed_config\.@type: expected the type URL of a message Trellis knows/,
    ],
    [
      'a field inside a typed config',
      edit((b) => void (b.admin.access_log[0].typed_config.pth = '/dev/null')),
      /typed_config<FileAccessLog>\.pth: unknown field \(did you mean path\?\)/,
    ],
    [
      'a port out of range (validate rules)',
      edit((b) => void (b.admin.address.socket_address.port_value = 70000)),
      /port_value: uint32\.lte/,
    ],
    [
      'two members of a oneof',
      edit(
        (b) =>
          void (b.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address =
            { address: '1.2.3.4', port_value: 1 }),
      ),
      /address is a oneof: pipe is already set/,
    ],
    ['not JSON', '{"node": ', /not JSON/],
  ];
  assert.deepEqual(checkEnvoyBootstrapJson(good), []);
  for (const [what, text, expected] of cases) {
    const problems = checkEnvoyBootstrapJson(text).map((p) => `${p.path}: ${p.message}`);
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${what}: ${problems.join('; ') || 'no problem found'}`,
    );
  }
});

test('a bootstrap that would not load is never written (a bug, reported with the path)', () => {
  assert.throws(
    () => renderEnvoyBootstrap({ ...options, xds: { host: '127.0.0.1', port: 70000 } }),
    /the Envoy bootstrap would not load: .*port_value/,
  );
  assert.equal(envoyBootstrap(options).static_resources?.clusters?.length, 2);
});
