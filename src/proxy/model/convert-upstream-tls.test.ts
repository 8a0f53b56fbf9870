/**
 * Cluster and listener TLS conversion: Istio's ISTIO_MUTUAL shapes are accepted (workload
 * secrets through sds-grpc, transport_socket_matches, endpoint tlsMode metadata); what the proxy
 * cannot honour is NACKed with the field path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE, packAny } from '../../protocol/protos.js';
import { XdsResourceCache } from '../xds-client/resource-cache.js';
import { autoMtls, inboundListener, istioMutual, meshEndpoints, sdsGrpc } from '../testing/mesh-tls.js';
import { edsCluster } from '../testing/resources.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';
const WITH_SOURCE = { workloadCertificates: true };

function respond(cache: XdsResourceCache, typeUrl: string, resources: object[], version = '1') {
  return cache.handleResponse({
    version_info: version,
    type_url: typeUrl,
    nonce: version,
    resources: resources.map((r) => packAny(typeUrl, r)),
  });
}

function problems(outcome: ReturnType<typeof respond>): string[] {
  return outcome.kind === 'nack' ? outcome.problems : [];
}

function upstream(ctx: object): object {
  return edsCluster(C, {
    transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: packAny(TYPE.upstreamTls, ctx) },
  });
}

const TS = `Cluster "${C}".transport_socket.typed_config`;

test('ISTIO_MUTUAL cluster with auto mTLS: accepted, matches and secrets reach the config', () => {
  const cache = new XdsResourceCache(() => 0, WITH_SOURCE);
  const ok = respond(cache, TYPE.cluster, [
    edsCluster(
      C,
      autoMtls(istioMutual({ sans: [{ exact: 'spiffe://cluster.local/ns/default/sa/reviews' }] })),
    ),
  ]);
  assert.equal(ok.kind, 'ack', problems(ok).join('\n'));
  const c = cache.snapshot().clusters.get(C)!;
  assert.equal(c.tls, undefined);
  assert.deepEqual(
    c.transportSocketMatches?.map((m) => [
      m.name,
      m.match,
      m.tls?.certificate,
      m.tls?.validation,
      m.tls?.alpn,
      m.tls?.sni,
    ]),
    [
      [
        'tlsMode-istio',
        { tlsMode: 'istio' },
        { name: 'default', source: 'workload' },
        { name: 'ROOTCA', source: 'workload' },
        ['istio-peer-exchange', 'istio'],
        'outbound_.9080_._.reviews.default.svc.cluster.local',
      ],
      ['tlsMode-disabled', {}, undefined, undefined, undefined, undefined],
    ],
  );
  // Workload secrets are not subscribed over ADS.
  assert.deepEqual(cache.wantedSecretNames(), []);
  const eds = respond(cache, TYPE.endpoint, [meshEndpoints(C, [{ port: 1, tlsMode: 'istio' }, { port: 2 }])]);
  assert.equal(eds.kind, 'ack');
});

test('sds-grpc secrets without a workload certificate source are NACKed, naming the field', () => {
  const cache = new XdsResourceCache(() => 0);
  const out = respond(cache, TYPE.cluster, [upstreamCtx()]);
  assert.deepEqual(problems(out), [
    `${TS}.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: secret "default" comes from sds-grpc, but this proxy has no workload certificate source`,
    `${TS}.common_tls_context.combined_validation_context.validation_context_sds_secret_config.sds_config: secret "ROOTCA" comes from sds-grpc, but this proxy has no workload certificate source`,
  ]);
  const listener = respond(cache, TYPE.listener, [
    inboundListener(15006, 'inbound|9080||', { mode: 'STRICT' }),
  ]);
  assert.equal(listener.kind, 'nack');
  assert.match(
    problems(listener)[0]!,
    /^Listener "virtualInbound_15006"\.filter_chains\[0\]\.transport_socket\.typed_config\.common_tls_context\.tls_certificate_sds_secret_configs\[0\]\.sds_config: secret "default" comes from sds-grpc/,
  );
});

function upstreamCtx(
  extra: { certificate?: object; validation?: object; sans?: object; ctx?: object } = {},
): object {
  return upstream({
    common_tls_context: {
      tls_certificate_sds_secret_configs: [extra.certificate ?? sdsGrpc('default')],
      combined_validation_context: {
        default_validation_context: extra.sans ?? {},
        validation_context_sds_secret_config: extra.validation ?? sdsGrpc('ROOTCA'),
      },
      alpn_protocols: ['istio'],
    },
    sni: 'outbound_.9080_._.reviews',
    ...extra.ctx,
  });
}

test('malformed upstream TLS is NACKed with field paths', () => {
  const cases: [string, object, string[]][] = [
    [
      'an SDS cluster other than sds-grpc',
      upstreamCtx({ certificate: sdsGrpc('default', 'my-sds') }),
      [
        `${TS}.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.grpc_services: only envoy_grpc cluster_name "sds-grpc" (the workload's own certificates) is supported`,
      ],
    ],
    [
      'a name sds-grpc does not serve',
      upstreamCtx({ certificate: sdsGrpc('kubernetes://my-secret') }),
      [
        `${TS}.common_tls_context.tls_certificate_sds_secret_configs[0].name: sds-grpc serves "default" and "ROOTCA" only, not "kubernetes://my-secret"`,
      ],
    ],
    [
      'REST config source',
      upstreamCtx({
        validation: {
          name: 'ROOTCA',
          sds_config: {
            api_config_source: {
              api_type: 'REST',
              grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }],
            },
          },
        },
      }),
      [
        `${TS}.common_tls_context.combined_validation_context.validation_context_sds_secret_config.sds_config.api_config_source.api_type: only GRPC is supported, got REST`,
      ],
    ],
    [
      'no config source',
      upstreamCtx({ validation: { name: 'ROOTCA' } }),
      [
        `${TS}.common_tls_context.combined_validation_context.validation_context_sds_secret_config.sds_config: required (inline secrets are not supported)`,
      ],
    ],
    [
      'a bad SAN regex',
      upstreamCtx({ sans: { match_subject_alt_names: [{ safe_regex: { regex: '(' } }] } }),
      [
        `${TS}.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names[0].safe_regex.regex`,
      ],
    ],
    [
      'an unknown SAN type',
      upstreamCtx({
        sans: { match_typed_subject_alt_names: [{ san_type: 'OTHER_NAME', matcher: { exact: 'x' } }] },
      }),
      [
        `${TS}.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names[0].san_type: SAN type "OTHER_NAME" is not supported (EMAIL, DNS, URI, IP_ADDRESS are)`,
      ],
    ],
    [
      'inline certificates',
      upstream({
        common_tls_context: { tls_certificates: [{ certificate_chain: { filename: '/etc/cert.pem' } }] },
      }),
      [`${TS}.common_tls_context.tls_certificates: field is not supported by the Trellis proxy`],
    ],
    [
      'fields the proxy does not honour',
      upstreamCtx({ ctx: { allow_renegotiation: true } }),
      [`${TS}.allow_renegotiation: field is not supported by the Trellis proxy`],
    ],
    [
      'SAN checks without a CA',
      upstream({
        common_tls_context: {
          combined_validation_context: {
            default_validation_context: { match_subject_alt_names: [{ exact: 'x' }] },
          },
        },
      }),
      [
        `${TS}.common_tls_context.combined_validation_context.validation_context_sds_secret_config: required (the CA, over SDS)`,
      ],
    ],
    [
      'an unknown transport socket',
      edsCluster(C, { transport_socket: { name: 'alts', typed_config: packAny(TYPE.router, {}) } }),
      [
        `${TS}: transport socket "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" is not supported (raw_buffer and UpstreamTlsContext are)`,
      ],
    ],
  ];
  for (const [what, cluster, want] of cases) {
    const cache = new XdsResourceCache(() => 0, WITH_SOURCE);
    const got = problems(respond(cache, TYPE.cluster, [cluster]));
    assert.equal(got.length, want.length, `${what}: ${got.join('\n')}`);
    want.forEach((w, i) => assert.ok(got[i]!.startsWith(w), `${what}:\n  got  ${got[i]}\n  want ${w}`));
  }
});

test('a match with a nested value and a match without a transport socket are NACKed', () => {
  const cache = new XdsResourceCache(() => 0, WITH_SOURCE);
  const out = respond(cache, TYPE.cluster, [
    edsCluster(C, {
      transport_socket_matches: [
        {
          name: 'a',
          match: { fields: { x: { structValue: { fields: {} } } } },
          transport_socket: istioMutual(),
        },
        { name: 'b', match: {} },
      ],
    }),
  ]);
  assert.deepEqual(problems(out), [
    `Cluster "${C}".transport_socket_matches[0].match.x: only string, number and boolean values can be matched`,
    `Cluster "${C}".transport_socket_matches[1].transport_socket: required`,
  ]);
});

test('ADS secrets named by clusters (credentialName) are subscribed', () => {
  const cache = new XdsResourceCache(() => 0);
  const ads = (name: string) => ({ name, sds_config: { ads: {} } });
  const ok = respond(cache, TYPE.cluster, [
    upstream({
      common_tls_context: {
        tls_certificate_sds_secret_configs: [ads('client-cred')],
        combined_validation_context: { validation_context_sds_secret_config: ads('client-cred-cacert') },
      },
      sni: 'api.example.com',
    }),
  ]);
  assert.equal(ok.kind, 'ack', problems(ok).join('\n'));
  assert.deepEqual(cache.wantedSecretNames(), ['client-cred', 'client-cred-cacert']);
});
