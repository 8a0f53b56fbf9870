import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TYPE, decodeMessage, encodeMessage, packAny } from '../../protocol/protos.js';
import { FakeAds } from '../testing/fake-ads.js';
import { request, startBackend, startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';
import { httpRbac, policy } from '../testing/security-resources.js';
import { readCheckResponse } from './ext-authz-client.js';

const APP = 'outbound|9080||app.default.svc.cluster.local';
const AUTHZ = 'outbound|9000||ext-authz.default.svc.cluster.local';
const POLICY = 'istio-ext-authz-sample-ns[default]-policy[ext]-rule[0]';

interface Check {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } }; principal?: string };
    request?: { http?: { method?: string; path?: string; host?: string; headers?: Record<string, string> } };
  };
}

type Answer = object | 'hang';

/** An authorization service: `decide` answers each Check (or never, for 'hang'). */
async function startAuthz(t: TestContext, decide: (c: Check) => Answer) {
  const server = new grpc.Server();
  const seen: Check[] = [];
  server.addService(
    {
      Check: {
        path: '/envoy.service.auth.v3.Authorization/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: object) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckRequest', v)),
        requestDeserialize: (b: Buffer) => decodeMessage<Check>('envoy.service.auth.v3.CheckRequest', b),
        responseSerialize: (v: object) =>
          Buffer.from(encodeMessage('envoy.service.auth.v3.CheckResponse', v)),
        responseDeserialize: (b: Buffer) => decodeMessage<object>('envoy.service.auth.v3.CheckResponse', b),
      },
    },
    {
      Check: (call: grpc.ServerUnaryCall<Check, object>, cb: grpc.sendUnaryData<object>) => {
        seen.push(call.request);
        const answer = decide(call.request);
        if (answer !== 'hang') cb(null, answer);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  t.after(() => server.forceShutdown());
  return { port, seen, stop: () => server.forceShutdown() };
}

const ALLOW = (headers: [string, string][] = [], remove: string[] = []) => ({
  status: { code: 0 },
  ok_response: {
    headers: headers.map(([key, value]) => ({ header: { key, value } })),
    headers_to_remove: remove,
  },
});
const DENY = {
  status: { code: 7 },
  denied_response: {
    status: { code: 'Unauthorized' },
    headers: [{ header: { key: 'x-why', value: 'no-badge' } }],
    body: 'nope',
  },
};

/** Istio's CUSTOM arrangement: a shadow RBAC names the requests, ext_authz checks only those. */
function customFilters(extAuthz: Record<string, unknown>): object[] {
  return [
    httpRbac(undefined, {
      shadow_rules: {
        action: 'ALLOW',
        policies: { [POLICY]: policy([{ url_path: { path: { prefix: '/protected' } } }]) },
      },
      shadow_rules_stat_prefix: 'istio_ext_authz_',
    }),
    {
      name: 'envoy.filters.http.ext_authz',
      typed_config: packAny(TYPE.extAuthz, {
        grpc_service: { envoy_grpc: { cluster_name: AUTHZ }, timeout: { nanos: 300_000_000 } },
        transport_api_version: 'V3',
        filter_enabled_metadata: {
          filter: 'envoy.filters.http.rbac',
          path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }],
          value: { string_match: { prefix: 'istio-ext-authz' } },
        },
        ...extAuthz,
      }),
    },
  ];
}

async function meshWith(t: TestContext, authzPort: number, extAuthz: Record<string, unknown> = {}) {
  const backend = await startBackend('app');
  const mesh = await startMesh(
    {
      CDS: [edsCluster(APP), edsCluster(AUTHZ)],
      EDS: [endpoints(APP, [{ port: backend.port }]), endpoints(AUTHZ, [{ port: authzPort }])],
      LDS: [httpListener(9080, '9080', { httpFilters: customFilters(extAuthz) })],
      RDS: [routeConfig('9080', [virtualHost('app', ['app:9080'], [routeTo(APP)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  return { mesh, backend };
}

test('CUSTOM: only the requests the shadow policy names are checked; the service allows with headers or denies', async (t) => {
  const authz = await startAuthz(t, (c) =>
    c.attributes?.request?.http?.headers?.['x-badge'] === 'ok'
      ? ALLOW([['x-ext-user', 'alice']], ['x-secret'])
      : DENY,
  );
  const { mesh, backend } = await meshWith(t, authz.port);
  const open = await request(mesh.port, { host: 'app:9080', path: '/open' });
  assert.equal(open.status, 200);
  assert.equal(authz.seen.length, 0, 'a request no CUSTOM policy selects is not sent to the service');
  const ok = await request(mesh.port, {
    host: 'app:9080',
    path: '/protected/a?x=1',
    headers: { 'x-badge': 'ok', 'x-secret': 's', 'x-ext-user': 'forged' },
  });
  assert.equal(ok.status, 200);
  const seen = ok.json<{ headers: Record<string, string> }>().headers;
  assert.equal(seen['x-ext-user'], 'alice');
  assert.equal(seen['x-secret'], undefined);
  const check = authz.seen[0]!.attributes!;
  assert.equal(check.request?.http?.path, '/protected/a?x=1');
  assert.equal(check.request?.http?.method, 'GET');
  assert.equal(check.request?.http?.host, 'app:9080');
  assert.equal(check.request?.http?.headers?.[':path'], '/protected/a?x=1');
  assert.equal(check.source?.address?.socket_address?.address, '127.0.0.1');
  assert.equal(check.source?.principal, undefined, 'a plaintext client has no principal');
  const denied = await request(mesh.port, { host: 'app:9080', path: '/protected/a' });
  assert.equal(denied.status, 401);
  assert.equal(denied.body, 'nope');
  assert.equal(denied.headers['x-why'], 'no-badge');
  const grpcDenied = await request(mesh.port, {
    host: 'app:9080',
    path: '/protected.Svc/Call',
    method: 'POST',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
  });
  assert.equal(grpcDenied.headers['grpc-status'], '16');
  assert.equal(backend.hits, 2);
  assert.equal(mesh.proxy.stats.envoyCounter(`cluster.${APP}.ext_authz.ok`), 1);
  assert.equal(mesh.proxy.stats.envoyCounter(`cluster.${APP}.ext_authz.denied`), 2);
  assert.match(mesh.proxy.stats.prometheus(), /response_code="401",response_flags="UAEX"/);
});

test('an unreachable or slow service: status_on_error, or through with failure_mode_allow', async (t) => {
  const hang = await startAuthz(t, () => 'hang');
  const strict = await meshWith(t, hang.port, { status_on_error: { code: 'ServiceUnavailable' } });
  const slow = await request(strict.mesh.port, { host: 'app:9080', path: '/protected' });
  assert.equal(slow.status, 503, 'timed out: status_on_error');
  assert.equal(strict.backend.hits, 0);
  const down = await startAuthz(t, () => ALLOW());
  down.stop();
  const lenient = await meshWith(t, down.port, {
    failure_mode_allow: true,
    failure_mode_allow_header_add: true,
  });
  const through = await request(lenient.mesh.port, { host: 'app:9080', path: '/protected' });
  assert.equal(through.status, 200);
  assert.equal(
    through.json<{ headers: Record<string, string> }>().headers['x-envoy-auth-failure-mode-allowed'],
    'true',
  );
  const defaulted = await meshWith(t, down.port);
  assert.equal((await request(defaulted.mesh.port, { host: 'app:9080', path: '/protected' })).status, 403);
});

test('what the service answers is read as Envoy reads it', () => {
  assert.deepEqual(readCheckResponse({}), {
    kind: 'ok',
    requestHeaders: [],
    removeHeaders: [],
    responseHeaders: [],
  });
  // A denial without a status is 403; a status outside HTTP's range too.
  assert.equal((readCheckResponse({ status: { code: 7 } }) as { status: number }).status, 403);
  assert.equal(
    (
      readCheckResponse({ status: { code: 16 }, denied_response: { status: { code: 'Unauthorized' } } }) as {
        status: number;
      }
    ).status,
    401,
  );
  // The service cannot rewrite the pseudo-headers or Host.
  const ok = readCheckResponse({
    status: { code: 0 },
    ok_response: {
      headers: [
        { header: { key: ':path', value: '/admin' } },
        { header: { key: 'Host', value: 'x' } },
        { header: { key: 'X-A', value: '1' } },
      ],
      headers_to_remove: [':authority', 'x-b'],
    },
  });
  assert.deepEqual(ok, {
    kind: 'ok',
    requestHeaders: [{ name: 'x-a', value: '1', append: false }],
    removeHeaders: ['x-b'],
    responseHeaders: [],
  });
});

test('ext_authz configs the proxy cannot honour are NACKed', async (t) => {
  const authz = await startAuthz(t, () => ALLOW());
  const { mesh } = await meshWith(t, authz.port);
  const bad: [string, object, RegExp][] = [
    [
      'http_service without a cluster',
      { grpc_service: undefined, http_service: { server_uri: { uri: 'http://x', timeout: { seconds: 1 } } } },
      /http_service\.server_uri\.cluster/,
    ],
    [
      'http_service with dynamic metadata from headers',
      {
        grpc_service: undefined,
        http_service: {
          server_uri: { uri: 'http://x', cluster: AUTHZ, timeout: { seconds: 1 } },
          authorization_response: { dynamic_metadata_from_headers: { patterns: [{ exact: 'x' }] } },
        },
      },
      /dynamic_metadata_from_headers/,
    ],
    ['with_request_body', { with_request_body: { max_request_bytes: 10 } }, /with_request_body/],
    [
      'google_grpc',
      { grpc_service: { google_grpc: { target_uri: 'x', stat_prefix: 'x' } } },
      /google_grpc|cluster_name/,
    ],
  ];
  for (const [what, extra, message] of bad) {
    const nacks = mesh.ads.nacks('LDS').length;
    mesh.ads.set('LDS', [
      httpListener(9080, '9080', { httpFilters: customFilters(extra as Record<string, unknown>) }),
    ]);
    await mesh.ads.waitFor(() => mesh.ads.nacks('LDS').length > nacks, `NACK: ${what}`);
    assert.match(mesh.ads.nacks('LDS').at(-1)?.error_detail?.message ?? '', message, what);
  }
});

test('http_service: the request without body goes to the service; 200 allows, anything else denies', async (t) => {
  const seen: { url: string; method: string; headers: Record<string, unknown> }[] = [];
  const service = await startBackend('authz', (req, res) => {
    seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers });
    if (req.headers['x-badge'] === 'ok') {
      res.writeHead(200, { 'x-ext-user': 'alice', 'x-other': 'no' });
      res.end();
      return;
    }
    res.writeHead(401, {
      'www-authenticate': 'Basic realm="x"',
      'x-reason': 'no badge',
      'x-debug': 'internal',
    });
    res.end('who?');
  });
  t.after(() => service.close());
  const backend = await startBackend('app');
  const SVC = 'outbound|8000||authz.default.svc.cluster.local';
  const mesh = await startMesh(
    {
      CDS: [edsCluster(APP), edsCluster(SVC)],
      EDS: [endpoints(APP, [{ port: backend.port }]), endpoints(SVC, [{ port: service.port }])],
      LDS: [
        httpListener(9080, '9080', {
          httpFilters: [
            {
              name: 'envoy.filters.http.ext_authz',
              typed_config: packAny(TYPE.extAuthz, {
                http_service: {
                  server_uri: { uri: 'http://authz:8000', cluster: SVC, timeout: { seconds: 1 } },
                  path_prefix: '/check',
                  authorization_request: {
                    allowed_headers: { patterns: [{ exact: 'x-badge' }] },
                    headers_to_add: [{ key: 'x-from', value: 'proxy' }],
                  },
                  authorization_response: {
                    allowed_upstream_headers: { patterns: [{ exact: 'x-ext-user' }] },
                    allowed_client_headers: { patterns: [{ exact: 'x-reason' }] },
                  },
                },
              }),
            },
          ],
        }),
      ],
      RDS: [routeConfig('9080', [virtualHost('app', ['app:9080'], [routeTo(APP)])])],
    },
    {},
    FakeAds,
  );
  t.after(async () => {
    await mesh.close();
    await backend.close();
  });
  const ok = await request(mesh.port, {
    host: 'app:9080',
    path: '/orders?id=1',
    method: 'DELETE',
    headers: { 'x-badge': 'ok', cookie: 'session=s', authorization: 'Bearer t' },
  });
  assert.equal(ok.status, 200);
  const upstream = ok.json<{ headers: Record<string, string> }>().headers;
  assert.equal(upstream['x-ext-user'], 'alice');
  assert.equal(upstream['x-other'], undefined);
  const asked = seen[0]!;
  assert.equal(asked.url, '/check/orders?id=1');
  assert.equal(asked.method, 'DELETE');
  assert.equal(asked.headers['x-badge'], 'ok');
  assert.equal(asked.headers.authorization, 'Bearer t', 'Authorization always goes to the service');
  assert.equal(asked.headers.cookie, undefined, 'headers not allowed stay with the request');
  assert.equal(asked.headers['x-from'], 'proxy');
  assert.equal(asked.headers.host, 'app:9080');
  const denied = await request(mesh.port, {
    host: 'app:9080',
    path: '/orders',
    body: 'secret body',
    method: 'POST',
  });
  assert.equal(denied.status, 401);
  assert.equal(denied.body, 'who?');
  assert.equal(denied.headers['x-reason'], 'no badge');
  assert.equal(denied.headers['www-authenticate'], 'Basic realm="x"');
  assert.equal(denied.headers['x-debug'], undefined);
  assert.equal(seen[1]!.headers['content-length'], '0', 'the body is not sent');
  assert.equal(backend.hits, 1);
  service.server.closeAllConnections();
});
