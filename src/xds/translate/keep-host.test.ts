// The route-by-destination extension: which routes of an opted-in sidecar keep the caller's Host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../api/resource.js';
import { TYPE } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import { checkEncodes, config, http, proxy, registry, res, service, type Loose } from './testkit.js';

const REVIEWS = 'reviews.default.svc.cluster.local';

function routes(resources: Resource[]): Loose[] {
  const push = buildPushContext(config(resources), registry([service(REVIEWS, [http(9080)])]));
  const out = generate(push, proxy(), TYPE.route);
  checkEncodes(TYPE.route, out);
  const rc = out.get('9080') as Loose;
  return (rc.virtual_hosts as Loose[]).flatMap((vh: Loose): Loose[] => vh.routes as Loose[]);
}

function sidecar(annotation: string | undefined): Resource {
  const r = res('Sidecar', 'default', 'default', { egress: [{ hosts: ['*/*'] }] });
  if (annotation !== undefined) r.metadata.annotations = { 'trellis.io/route-by-destination': annotation };
  return r;
}

const rewrite = res('VirtualService', 'default', 'r', {
  hosts: ['reviews'],
  http: [
    {
      match: [{ uri: { prefix: '/v2' } }],
      rewrite: { authority: 'reviews-v2' },
      route: [{ destination: { host: 'reviews' } }],
    },
    { route: [{ destination: { host: 'reviews' } }] },
  ],
});

test('opted in: every forwarding route keeps the Host, except those that rewrite it themselves', () => {
  const rs = routes([sidecar('true'), rewrite]);
  assert.deepEqual(
    rs.map((r: Loose): unknown[] => [
      r.route?.host_rewrite_literal ?? null,
      r.route?.host_rewrite_header ?? null,
    ]),
    [
      ['reviews-v2', null],
      [null, 'host'],
      // allow_any too: the address resolved is the target's, the Host the caller's.
      [null, 'host'],
    ],
  );
});

test('not opted in (no annotation, or not "true"): no route keeps the Host', () => {
  for (const annotation of [undefined, 'false', 'yes']) {
    const rs = routes([sidecar(annotation), rewrite]);
    assert.ok(
      rs.every((r: Loose) => r.route?.host_rewrite_header === undefined),
      String(annotation),
    );
  }
});
