import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  endpointRows,
  inventoryKind,
  renderEndpoints,
  renderServices,
  renderWorkloads,
  selectServices,
  workloadRows,
  type InventoryEndpoint,
  type InventoryService,
} from './mesh-inventory.js';

const ep = (address: string, over: Partial<InventoryEndpoint> = {}): InventoryEndpoint => ({
  hostname: 'reviews.default.svc.cluster.local',
  namespace: 'default',
  address,
  ports: { http: 9080 },
  labels: { app: 'reviews' },
  locality: '',
  weight: 1,
  healthy: true,
  ...over,
});

const reviews: InventoryService = {
  hostname: 'reviews.default.svc.cluster.local',
  namespace: 'default',
  ports: [{ name: 'http', number: 9080, protocol: 'HTTP' }],
  resolution: 'STATIC',
  location: 'MESH_INTERNAL',
  addresses: [],
  labels: {},
  source: 'ServiceEntry/default/reviews',
  endpoints: [
    ep('10.0.0.1', { workloadName: 'reviews-v1', labels: { app: 'reviews', version: 'v1' } }),
    ep('10.0.0.2', { workloadName: 'reviews-v2', healthy: false, ports: { http: 19080 } }),
  ],
};
const api: InventoryService = {
  hostname: 'api.example.com',
  namespace: 'staging',
  ports: [
    { name: 'https', number: 443, protocol: 'TLS' },
    { name: 'http', number: 80, protocol: 'HTTP', targetPort: 8080 },
  ],
  resolution: 'DNS',
  location: 'MESH_EXTERNAL',
  addresses: ['240.0.0.1'],
  labels: { team: 'edge' },
  source: 'ServiceEntry/staging/api',
  endpoints: [
    ep('api.example.com', {
      hostname: 'api.example.com',
      namespace: 'staging',
      ports: { https: 443 },
      labels: {},
      workloadName: undefined,
      locality: 'eu/west',
      weight: 3,
    }),
  ],
};
// The same workload serving a second service: one workload row, its services joined.
const reviewsAdmin: InventoryService = {
  ...reviews,
  hostname: 'reviews-admin.default.svc.cluster.local',
  ports: [{ name: 'http', number: 9090, protocol: 'HTTP' }],
  endpoints: [
    ep('10.0.0.1', { hostname: 'reviews-admin.default.svc.cluster.local', workloadName: 'reviews-v1' }),
  ],
};
const all = [reviews, api, reviewsAdmin];

test('inventoryKind: plural, singular, short name, any case; config kinds are not inventory', () => {
  for (const [arg, kind] of [
    ['services', 'services'],
    ['svc', 'services'],
    ['Service', 'services'],
    ['wl', 'workloads'],
    ['workload', 'workloads'],
    ['EP', 'endpoints'],
    ['endpoints', 'endpoints'],
    ['serviceentries', undefined],
    ['se', undefined],
    ['vs', undefined],
  ] as const)
    assert.equal(inventoryKind(arg), kind, arg);
});

test('selectServices: by namespace, by host or its first label, sorted', () => {
  const names = (q: Parameters<typeof selectServices>[1]) => selectServices(all, q).map((s) => s.hostname);
  assert.deepEqual(names({ namespace: 'default' }), [
    'reviews-admin.default.svc.cluster.local',
    'reviews.default.svc.cluster.local',
  ]);
  assert.deepEqual(names({ namespace: undefined }), [
    'reviews-admin.default.svc.cluster.local',
    'reviews.default.svc.cluster.local',
    'api.example.com',
  ]);
  assert.deepEqual(names({ namespace: undefined, name: 'reviews' }), ['reviews.default.svc.cluster.local']);
  assert.deepEqual(names({ namespace: undefined, name: 'api.example.com' }), ['api.example.com']);
  assert.deepEqual(names({ namespace: 'default', name: 'api' }), []);
  assert.deepEqual(names({ namespace: undefined, name: 'review' }), []);
});

test('renderServices: ports, healthy/all endpoints; wide adds resolution, addresses, labels, source', () => {
  assert.equal(
    renderServices(selectServices(all, { namespace: undefined }), { allNamespaces: true, wide: false }),
    [
      'NAMESPACE   NAME                                      PORTS                   ENDPOINTS   LOCATION',
      'default     reviews-admin.default.svc.cluster.local   9090/HTTP               1/1         MESH_INTERNAL',
      'default     reviews.default.svc.cluster.local         9080/HTTP               1/2         MESH_INTERNAL',
      'staging     api.example.com                           443/TLS,80/HTTP->8080   1/1         MESH_EXTERNAL',
      '',
    ].join('\n'),
  );
  const wide = renderServices([api], { allNamespaces: false, wide: true });
  assert.match(wide, /^NAME\s+PORTS\s+ENDPOINTS\s+LOCATION\s+RESOLUTION\s+ADDRESSES\s+LABELS\s+SOURCE\n/);
  assert.match(
    wide,
    /\napi\.example\.com\s+443\/TLS,80\/HTTP->8080\s+1\/1\s+MESH_EXTERNAL\s+DNS\s+240\.0\.0\.1\s+team=edge\s+ServiceEntry\/staging\/api\n$/,
  );
  assert.match(
    renderServices([reviews], { allNamespaces: false, wide: true }),
    /STATIC\s+<none>\s+<none>\s+ServiceEntry/,
  );
});

test('endpointRows: one row per endpoint and port, the endpoint port from the instance, health shown', () => {
  const rows = endpointRows(all, { namespace: undefined });
  assert.deepEqual(
    rows.map((r) => [r.endpoint, r.hostname, r.port, r.healthy]),
    [
      ['10.0.0.1:9080', 'reviews-admin.default.svc.cluster.local', '9090', true],
      ['10.0.0.1:9080', 'reviews.default.svc.cluster.local', '9080', true],
      ['10.0.0.2:19080', 'reviews.default.svc.cluster.local', '9080', false],
      ['api.example.com:443', 'api.example.com', '443', true],
      // No https in the instance's ports: the service's targetPort.
      ['api.example.com:8080', 'api.example.com', '80', true],
    ],
  );
  const text = renderEndpoints(endpointRows(all, { namespace: 'default', name: 'reviews' }), {
    allNamespaces: false,
    wide: false,
  });
  assert.equal(
    text,
    [
      'ENDPOINT         SERVICE                             PORT        HEALTH      WORKLOAD',
      '10.0.0.1:9080    reviews.default.svc.cluster.local   9080/HTTP   HEALTHY     reviews-v1',
      '10.0.0.2:19080   reviews.default.svc.cluster.local   9080/HTTP   UNHEALTHY   reviews-v2',
      '',
    ].join('\n'),
  );
  const wide = renderEndpoints(endpointRows([api], { namespace: undefined }), {
    allNamespaces: false,
    wide: true,
  });
  assert.match(
    wide,
    /\napi\.example\.com:443\s+api\.example\.com\s+443\/TLS\s+HEALTHY\s+-\s+3\s+eu\/west\s+<none>\s+-\n/,
  );
});

test('workloadRows: grouped by namespace and workload, services joined, instances counted once, proxies joined', () => {
  const proxies = [
    {
      proxy: 'sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local',
      namespace: 'default',
      workloadName: 'reviews-v1',
    },
    {
      proxy: 'sidecar~10.0.0.9~reviews-v1.staging~staging.svc.cluster.local',
      namespace: 'staging',
      workloadName: 'reviews-v1',
    },
  ];
  const rows = workloadRows(all, proxies, { namespace: undefined });
  assert.deepEqual(
    rows.map((w) => [w.namespace, w.name, w.services, `${w.healthy}/${w.instances}`, w.proxies.length]),
    [
      ['default', 'reviews-v1', ['reviews', 'reviews-admin'], '1/1', 1],
      ['default', 'reviews-v2', ['reviews'], '0/1', 0],
      // No workload name: the address stands for it.
      ['staging', 'api.example.com', ['api.example.com'], '1/1', 0],
    ],
  );
  assert.equal(
    renderWorkloads(workloadRows(all, proxies, { namespace: 'default' }), {
      allNamespaces: false,
      wide: false,
    }),
    [
      'NAME         SERVICES                READY   PROXY',
      'reviews-v1   reviews,reviews-admin   1/1     1 connected',
      'reviews-v2   reviews                 0/1     none',
      '',
    ].join('\n'),
  );
  const wide = renderWorkloads(workloadRows(all, proxies, { namespace: 'default', name: 'reviews-v1' }), {
    allNamespaces: false,
    wide: true,
  });
  assert.match(
    wide,
    /\nreviews-v1\s+reviews,reviews-admin\s+1\/1\s+1 connected\s+10\.0\.0\.1\s+app=reviews,version=v1\s+sidecar~10\.0\.0\.1~reviews-v1\.default~/,
  );
  assert.deepEqual(workloadRows(all, proxies, { namespace: 'staging', name: 'reviews-v1' }), []);
});
