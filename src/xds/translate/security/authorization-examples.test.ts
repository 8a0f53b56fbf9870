/**
 * Every AuthorizationPolicy and RequestAuthentication example from Istio's documentation, applied
 * to a workload with HTTP and TCP ports and to a gateway (as a namespace policy and as a mesh-wide
 * one): the listeners encode and hold to Envoy's validate rules, and each example's filters are
 * there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SECURITY_EXAMPLES } from '../../../api/security/istio-examples.js';
import { TYPE, unpackAny, type AnyMessage } from '../../../protocol/protos.js';
import type { Listener } from '../../../protocol/envoy-types.js';
import { buildPushContext, generate } from '../index.js';
import { checkEncodes, config, endpoint, http, proxy, registry, res, service, tcp } from '../testkit.js';
import { JwksSnapshot } from './jwks-source.js';

const HTTPBIN = 'httpbin.foo.svc.cluster.local';
const SIDECAR = proxy({ namespace: 'foo', labels: { app: 'httpbin' }, ipAddresses: ['10.0.0.1'] });
const GATEWAY = proxy({
  type: 'router',
  namespace: 'foo',
  labels: { app: 'httpbin', istio: 'ingressgateway' },
});
const GW = res('Gateway', 'foo', 'gw', {
  selector: { istio: 'ingressgateway' },
  servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
});
// Keys for every jwksUri the examples name, as the control plane would have fetched them.
const FETCHED = new JwksSnapshot(
  new Map(
    SECURITY_EXAMPLES.flatMap(([, , spec]) =>
      ((spec as { jwtRules?: { jwksUri?: string }[] }).jwtRules ?? []).flatMap((r) =>
        r.jwksUri
          ? [[r.jwksUri, '{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}'] as [string, string]]
          : [],
      ),
    ),
  ),
);

/** Names of every network and HTTP filter of some listeners. */
function filterNames(listeners: Iterable<Listener>): Set<string> {
  const out = new Set<string>();
  for (const l of listeners) {
    for (const chain of l.filter_chains ?? []) {
      for (const f of chain.filters ?? []) {
        out.add(f.name ?? '');
        const any = f.typed_config as AnyMessage | undefined;
        if (any?.type_url === TYPE.hcm) {
          const hcm = unpackAny<{ http_filters?: { name: string }[] }>(any);
          for (const h of hcm.http_filters ?? []) out.add(h.name);
        }
      }
    }
  }
  return out;
}

for (const [name, kind, spec] of SECURITY_EXAMPLES) {
  if (kind === 'PeerAuthentication') continue;
  for (const namespace of ['foo', 'istio-system']) {
    test(`Istio example ${kind} "${name}" (${namespace}): listeners hold to Envoy's validate rules`, () => {
      const push = buildPushContext(
        config([GW, res(kind, namespace, 'example', spec)]),
        registry([service(HTTPBIN, [http(8000), tcp(9000)])], [endpoint(HTTPBIN, '10.0.0.1')]),
        { security: { jwks: FETCHED } },
      );
      const sidecar = generate(push, SIDECAR, TYPE.listener);
      checkEncodes(TYPE.listener, sidecar);
      checkEncodes(TYPE.listener, generate(push, GATEWAY, TYPE.listener));
      const names = filterNames(sidecar.values());
      const s = spec as { targetRef?: unknown; targetRefs?: unknown[]; jwtRules?: unknown[] };
      if (s.targetRef !== undefined || (s.targetRefs ?? []).length > 0) return;
      if (kind === 'AuthorizationPolicy') assert.ok(names.has('envoy.filters.http.rbac'), [...names].join());
      else if ((s.jwtRules ?? []).length > 0)
        assert.ok(names.has('envoy.filters.http.jwt_authn'), [...names].join());
    });
  }
}
