import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathMatch, Route, RouteTable } from '../../proxy/model/config.js';
import { gatewayRoutes, summaryText } from './summary.js';

const route = (path: PathMatch): Route => ({ name: '', match: { path } }) as unknown as Route;
const table = (vhosts: [string[], PathMatch[]][]): RouteTable =>
  ({
    name: 'http.8080',
    virtualHosts: vhosts.map(([domains, paths]) => ({ name: domains[0], domains, routes: paths.map(route) })),
  }) as unknown as RouteTable;

test("the gateway's routes as served: hosts without ports, each path match once", () => {
  const routes = gatewayRoutes([
    table([
      [
        ['*', '*:8080'],
        [
          { kind: 'path', value: '/productpage' },
          { kind: 'prefix', value: '/static' },
          { kind: 'prefix', value: '/static' },
          { kind: 'separated', value: '/api' },
          { kind: 'regex', value: '^/v[0-9]+/.*' },
        ],
      ],
      [['shop.example.com', 'shop.example.com:8080'], [{ kind: 'prefix', value: '/' }]],
      [['empty.example.com'], []],
    ]),
    // The same virtual host in another table (a second listener port) is said once.
    table([
      [
        ['*'],
        [
          { kind: 'path', value: '/productpage' },
          { kind: 'prefix', value: '/static' },
          { kind: 'separated', value: '/api' },
          { kind: 'regex', value: '^/v[0-9]+/.*' },
        ],
      ],
    ]),
  ]);
  assert.deepEqual(routes, ['* /productpage /static* /api/* ~^/v[0-9]+/.*', 'shop.example.com /*']);
  assert.deepEqual(gatewayRoutes([table([[['a.com', 'b.com:80'], [{ kind: 'prefix', value: '' }]]])]), [
    'a.com,b.com /*',
  ]);
});

const base = {
  controlPlaneUrl: 'http://127.0.0.1:15014',
  xds: '127.0.0.1:15010',
  configDir: '/m/config',
  workloads: [
    {
      name: 'web-v1',
      id: 'sidecar~127.0.0.1~web-v1.default~default.svc.cluster.local',
      adminUrl: 'http://127.0.0.1:1',
      identity: 'spiffe://cluster.local/ns/default/sa/web',
      pid: 42,
    },
  ],
};

test('the summary names each proxy by its short name and its xDS id, and the routes it serves', () => {
  const text = summaryText({
    ...base,
    gatewayUrl: 'http://127.0.0.1:8080',
    gatewayRoutes: ['* /web*', 'api.example.com /v1*'],
    gateway: {
      name: 'gw',
      id: 'router~127.0.0.1~gw.default~default.svc.cluster.local',
      adminUrl: 'http://127.0.0.1:2',
      identity: 'spiffe://x',
    },
  });
  assert.match(
    text,
    /\n {2}gateway: +http:\/\/127\.0\.0\.1:8080 +\(admin http:\/\/127\.0\.0\.1:2\)\n {4}routes: +\* \/web\*\n {18}api\.example\.com \/v1\*\n/,
  );
  assert.match(
    text,
    /\n {4}web-v1 +sidecar~127\.0\.0\.1~web-v1\.default~default\.svc\.cluster\.local +http:\/\/127\.0\.0\.1:1 +spiffe:\/\/cluster\.local\/ns\/default\/sa\/web\n/,
  );
  assert.match(
    text,
    /\n {4}gw +router~127\.0\.0\.1~gw\.default~default\.svc\.cluster\.local +http:\/\/127\.0\.0\.1:2 +spiffe:\/\/x\n/,
  );
  assert.match(text, /pids: +web-v1=42\n/);
});

test('a gateway without routes says how to add one instead of printing a URL that 404s', () => {
  const text = summaryText({
    ...base,
    gatewayUrl: 'http://127.0.0.1:8080',
    gatewayRoutes: [],
    gateway: { name: 'gw', id: 'router~x', adminUrl: 'http://127.0.0.1:2', identity: '-' },
  });
  assert.match(
    text,
    /routes: +none yet: a VirtualService with gateways: \[gw\] in the config directory adds them/,
  );
  assert.doesNotMatch(text, /productpage/);
});

test('columns line up whatever the lengths of names, ids and URLs; the rest of the summary is there', () => {
  const text = summaryText({
    ...base,
    workloads: [
      ...base.workloads,
      {
        name: 'a',
        id: 'sidecar~127.0.0.1~a.x~x.svc.cluster.local',
        adminUrl: 'http://127.0.0.1:12345',
        identity: 'spiffe://a',
      },
    ],
    gatewayUrl: 'http://127.0.0.1:8080',
    gatewayRoutes: ['* /'],
    gateway: {
      name: 'ingress-gateway-long',
      id: 'router~r',
      adminUrl: 'http://127.0.0.1:2',
      identity: 'spiffe://g',
    },
  });
  const rows = text.split('\n').filter((l) => /~/.test(l));
  assert.equal(rows.length, 3);
  for (const column of [/(sidecar|router)~/, /http:/, /spiffe:/]) {
    const at = rows.map((r) => r.search(column));
    assert.ok(
      at.every((i) => i === at[0] && i > 0),
      `${String(column)} at ${at.join(',')}:\n${rows.join('\n')}`,
    );
  }
  assert.ok(rows.every((r) => r.startsWith('    ') && !r.startsWith('     ')));
  assert.match(text, /^\ntrellis up: the mesh is running\.\n/);
  assert.match(
    text,
    /\n {2}control plane: {2}http:\/\/127\.0\.0\.1:15014 {2}\(\/debug\/syncz, \/debug\/config_dump\?proxy=ID, \/metrics\); xDS 127\.0\.0\.1:15010\n/,
  );
  assert.match(text, /\n {2}config: {9}\/m\/config {2}\(watched: edits change traffic live\)\n/);
  assert.match(
    text,
    /\n {2}proxies: name, xDS id, admin \(\/config_dump, \/clusters, \/stats\/prometheus\), identity:\n/,
  );
  assert.match(text, /pids: +web-v1=42 a=-\nPress Ctrl-C to stop\.\n$/);
});

test('without a gateway, no gateway lines', () => {
  const text = summaryText(base);
  assert.doesNotMatch(text, /gateway|routes/);
});
