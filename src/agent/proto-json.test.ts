import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TYPE, encodeMessage, packAny } from '../protocol/protos.js';
import { fromProtoJson, toProtoJson } from './proto-json.js';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const SECRET = 'envoy.extensions.transport_sockets.tls.v3.Secret';

const cluster = {
  name: 'c',
  type: 'STRICT_DNS',
  connect_timeout: { seconds: 0, nanos: 250_000_000 },
  dns_refresh_rate: { seconds: 30, nanos: 0 },
  respect_dns_ttl: true,
  per_connection_buffer_limit_bytes: { value: 32768 },
  ring_hash_lb_config: { minimum_ring_size: { value: 1024 } },
  preconnect_policy: { per_upstream_preconnect_ratio: { value: 1.5 } },
  metadata: {
    filter_metadata: {
      istio: {
        fields: {
          s: { stringValue: 'x' },
          n: { numberValue: 2.5 },
          b: { boolValue: false },
          l: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }] } },
          o: { structValue: { fields: { k: { nullValue: 'NULL_VALUE' } } } },
        },
      },
    },
  },
  typed_extension_protocol_options: {
    timeout: packAny('type.googleapis.com/google.protobuf.Duration', { seconds: 1, nanos: 0 }),
    h2: packAny(TYPE.http2Options, { explicit_http_config: { http2_protocol_options: {} } }),
  },
};

const clusterJson = {
  name: 'c',
  type: 'STRICT_DNS',
  connect_timeout: '0.25s',
  per_connection_buffer_limit_bytes: 32768,
  metadata: { filter_metadata: { istio: { s: 'x', n: 2.5, b: false, l: [1, 'a'], o: { k: null } } } },
  dns_refresh_rate: '30s',
  respect_dns_ttl: true,
  ring_hash_lb_config: { minimum_ring_size: '1024' },
  typed_extension_protocol_options: {
    timeout: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1s' },
    h2: { '@type': TYPE.http2Options, explicit_http_config: { http2_protocol_options: {} } },
  },
  preconnect_policy: { per_upstream_preconnect_ratio: 1.5 },
};

test('proto3 JSON both ways: durations, wrappers, 64-bit as strings, Struct, maps, Any (special and plain), bytes', () => {
  const json = toProtoJson(CLUSTER, cluster) as Record<string, unknown>;
  assert.deepEqual(json, clusterJson);
  const back = fromProtoJson(CLUSTER, json);
  assert.deepEqual(back.problems, []);
  assert.deepEqual(
    Buffer.from(encodeMessage(CLUSTER, back.value)),
    Buffer.from(encodeMessage(CLUSTER, cluster)),
  );

  const secret = { name: 's', tls_certificate: { private_key: { inline_bytes: Buffer.from('KEY\n') } } };
  const sj = toProtoJson(SECRET, secret);
  assert.deepEqual(sj, { name: 's', tls_certificate: { private_key: { inline_bytes: 'S0VZCg==' } } });
  const sb = fromProtoJson(SECRET, sj);
  assert.deepEqual(sb.problems, []);
  assert.deepEqual(Buffer.from(encodeMessage(SECRET, sb.value)), Buffer.from(encodeMessage(SECRET, secret)));
});

test('durations are written digit by digit and read back exactly', () => {
  const cases: [number, number, string][] = [
    [0, 0, '0s'],
    [1, 0, '1s'],
    [0, 100, '0.0000001s'],
    [5, 100_000_000, '5.1s'],
    [0, 250_000_000, '0.25s'],
    [-1, -500_000_000, '-1.5s'],
    [0, -1, '-0.000000001s'],
    [315_576_000_000, 999_999_999, '315576000000.999999999s'],
  ];
  const D = 'google.protobuf.Duration';
  for (const [seconds, nanos, text] of cases) {
    assert.equal(toProtoJson(D, { seconds, nanos }), text);
    const back = fromProtoJson(CLUSTER, { connect_timeout: text });
    assert.deepEqual(back.problems, [], text);
    if (seconds !== 0 || nanos >= 0) assert.deepEqual(back.value.connect_timeout, { seconds, nanos }, text);
  }
  for (const bad of [' 1s', '1sx', 'x1s', '1.1234567891s', '1.s', '.5s', '1S'])
    assert.equal(fromProtoJson(CLUSTER, { connect_timeout: bad }).problems.length, 1, bad);
});

test('reading accepts what Envoy accepts: lowerCamel names, enum numbers, integers as strings, null as unset', () => {
  const r = fromProtoJson(CLUSTER, {
    name: 'c',
    connectTimeout: '2s',
    type: 1,
    per_connection_buffer_limit_bytes: '12',
    lb_policy: null,
    dns_refresh_rate: '-1.5s',
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.value, {
    name: 'c',
    connect_timeout: { seconds: 2, nanos: 0 },
    type: 1,
    per_connection_buffer_limit_bytes: { value: 12 },
    dns_refresh_rate: { seconds: -1, nanos: -500_000_000 },
  });
});

test('reading refuses what Envoy refuses, each with its path and what was expected', () => {
  const cases: [string, string, object, RegExp][] = [
    ['not a string', CLUSTER, { name: 5 }, /^Cluster\.name: expected a string, got 5$/],
    ['not a bool', CLUSTER, { respect_dns_ttl: 'yes' }, /respect_dns_ttl: expected true or false/],
    [
      'negative unsigned',
      CLUSTER,
      { per_connection_buffer_limit_bytes: -1 },
      /per_connection_buffer_limit_bytes: expected a whole number, 0 or more, got -1/,
    ],
    [
      'zero unsigned is fine, a fraction is not',
      CLUSTER,
      { per_connection_buffer_limit_bytes: 1.5 },
      /expected a whole number, got 1\.5/,
    ],
    [
      'a non-numeric string number',
      CLUSTER,
      { per_connection_buffer_limit_bytes: '12a' },
      /expected a whole number, got "12a"/,
    ],
    [
      'a string for a double',
      CLUSTER,
      { preconnect_policy: { per_upstream_preconnect_ratio: 'x' } },
      /per_upstream_preconnect_ratio: expected a number/,
    ],
    [
      'a string for a message',
      CLUSTER,
      { load_assignment: 'x' },
      /^Cluster\.load_assignment: expected an object \(ClusterLoadAssignment\), got "x"$/,
    ],
    [
      'an object for a list',
      CLUSTER,
      { transport_socket_matches: {} },
      /^Cluster\.transport_socket_matches: expected a list$/,
    ],
    [
      'a list for a map',
      CLUSTER,
      { metadata: { filter_metadata: [] } },
      /filter_metadata: expected an object \(a map\)/,
    ],
    [
      'a number for a Struct',
      CLUSTER,
      { metadata: { filter_metadata: { a: 5 } } },
      /filter_metadata\[a\]: expected a JSON object/,
    ],
    [
      'an enum number out of range',
      CLUSTER,
      { type: 99 },
      /^Cluster\.type: expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST, got 99$/,
    ],
    ['a duration without unit', CLUSTER, { connect_timeout: '5' }, /connect_timeout: expected a duration/],
    ['a duration as a number', CLUSTER, { connect_timeout: 5 }, /connect_timeout: expected a duration/],
    [
      'an Any without @type',
      CLUSTER,
      { typed_extension_protocol_options: { x: { path: '/' } } },
      /typed_extension_protocol_options\[x\]\.@type: expected the type URL/,
    ],
    [
      'bad base64',
      SECRET,
      { tls_certificate: { private_key: { inline_bytes: '!!' } } },
      /inline_bytes: expected base64/,
    ],
    ['a field far from any name', CLUSTER, { zzzzzzzz: 1 }, /^Cluster\.zzzzzzzz: unknown field$/],
    ['a near miss', CLUSTER, { nmae: 'c' }, /^Cluster\.nmae: unknown field \(did you mean name\?\)$/],
    [
      'one problem each, in a list',
      CLUSTER,
      { transport_socket_matches: [{ nme: 'a' }] },
      /transport_socket_matches\[0\]\.nme: unknown field \(did you mean name\?\)/,
    ],
    ['an object for a scalar list item', CLUSTER, { dns_resolvers: 'x' }, /dns_resolvers: expected a list/],
  ];
  for (const [what, type, json, expected] of cases) {
    const problems = fromProtoJson(type, json).problems.map((p) => `${p.path}: ${p.message}`);
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${what}: ${problems.join('; ') || 'no problem'}`,
    );
  }
  assert.deepEqual(fromProtoJson(CLUSTER, { per_connection_buffer_limit_bytes: 0 }).problems, []);
  assert.match(fromProtoJson(CLUSTER, 'x').problems[0]?.message ?? '', /expected an object \(Cluster\)/);
});
