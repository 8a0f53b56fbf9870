import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HTTPRoute } from '../../api/networking/types.js';
import { TYPE } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import { checkEncodes, config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const HOST = 'reviews.default.svc.cluster.local';
const split: HTTPRoute = {
  route: [
    { destination: { host: 'reviews', subset: 'v1' }, weight: 90 },
    { destination: { host: 'reviews', subset: 'v2' }, weight: 10 },
  ],
};
const lone: HTTPRoute = {
  match: [{ uri: { prefix: '/admin' } }],
  route: [{ destination: { host: 'reviews' } }],
};

function routes(annotations: Record<string, string> | undefined, type: 'sidecar' | 'grpc' = 'sidecar') {
  const vs = res('VirtualService', 'default', 'reviews', { hosts: ['reviews'], http: [lone, split] });
  if (annotations) vs.metadata.annotations = annotations;
  const dr = res('DestinationRule', 'default', 'reviews', {
    host: 'reviews',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  const push = buildPushContext(config([vs, dr]), registry([service(HOST, [http(9080)])]));
  const out = generate(push, proxy({ type, ipAddresses: ['10.9.9.9'] }), TYPE.route);
  checkEncodes(TYPE.route, out);
  const rc = [...out.values()][0] as Loose;
  const vh = (rc.virtual_hosts as Loose[]).find((v) =>
    (v.domains as string[]).some((d) => d.startsWith(HOST)),
  )!;
  return vh.routes as Record<string, Loose>[];
}

test('trellis.io/sticky-canary marks every weighted route of the VirtualService, and only those', () => {
  const [admin, weighted] = routes({ 'trellis.io/sticky-canary': 'header:X-User-Id' });
  assert.equal(admin!.metadata, undefined, 'one destination: no pick to make');
  assert.deepEqual(weighted!.metadata, {
    filter_metadata: { 'trellis.sticky_canary': { fields: { header: { stringValue: 'x-user-id' } } } },
  });
  const [, byCookie] = routes({ 'trellis.io/sticky-canary': 'cookie:session' });
  assert.deepEqual(byCookie!.metadata, {
    filter_metadata: { 'trellis.sticky_canary': { fields: { cookie: { stringValue: 'session' } } } },
  });
});

test('no annotation, an unrelated one, or a proxyless gRPC client: no sticky metadata', () => {
  assert.equal(routes(undefined)[1]!.metadata, undefined);
  assert.equal(routes({ 'example.com/x': 'y' })[1]!.metadata, undefined);
  const grpcRoutes = routes({ 'trellis.io/sticky-canary': 'header:x-user' }, 'grpc');
  assert.ok(grpcRoutes.every((r) => r.metadata === undefined));
});
