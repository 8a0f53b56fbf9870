import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { TYPE } from './protos.js';
import { validateMessage, validateRules, type RuleFinding } from './validate-rules.js';

const brief = (findings: RuleFinding[]): string[] => findings.map((f) => `${f.path}: ${f.rule}`);

// Rules as Envoy's own protos write them: [case, message type, object, findings as "path: rule"].
const ENVOY: [string, string, object, string[]][] = [
  ['a valid cluster', TYPE.cluster, { name: 'c', connect_timeout: { seconds: 1 } }, []],
  ['string min_len, unset proto3 scalar counts as ""', TYPE.cluster, {}, ['Cluster.name: string.min_len']],
  [
    'uint32 lte on a nested message',
    TYPE.listener,
    { name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 70_000 } } },
    ['Listener.address.socket_address.port_value: uint32.lte'],
  ],
  [
    'wrapped uint32 gte (UInt32Value)',
    TYPE.endpoint,
    {
      cluster_name: 'c',
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: 'a', port_value: 1 } } },
              load_balancing_weight: { value: 0 },
            },
          ],
        },
      ],
    },
    ['ClusterLoadAssignment.endpoints[0].lb_endpoints[0].load_balancing_weight: uint32.gte'],
  ],
  ['enum defined_only', TYPE.cluster, { name: 'c', lb_policy: 99 }, ['Cluster.lb_policy: enum.defined_only']],
  [
    'duration gt',
    TYPE.cluster,
    { name: 'c', dns_refresh_rate: { nanos: 1000 } },
    ['Cluster.dns_refresh_rate: duration.gt'],
  ],
  [
    'repeated min_items, and oneof required',
    TYPE.route,
    { virtual_hosts: [{ name: 'vh', domains: [], routes: [{ match: { prefix: '/' }, route: {} }] }] },
    [
      'RouteConfiguration.virtual_hosts[0].domains: repeated.min_items',
      'RouteConfiguration.virtual_hosts[0].routes[0].route.cluster_specifier: oneof.required',
    ],
  ],
  [
    'an unset oneof member is not checked, a set one is (even when empty)',
    TYPE.route,
    {
      virtual_hosts: [
        { name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: '' } }] },
      ],
    },
    ['RouteConfiguration.virtual_hosts[0].routes[0].route.cluster: string.min_len'],
  ],
  [
    'duration required',
    TYPE.route,
    {
      virtual_hosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_back_off: {} } } }],
        },
      ],
    },
    [
      'RouteConfiguration.virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.base_interval: duration.required',
    ],
  ],
  [
    'well_known_regex HTTP_HEADER_VALUE (lax) and max_bytes',
    TYPE.route,
    {
      request_headers_to_add: [
        { header: { key: 'x', value: 'a\nb' } },
        { header: { key: 'y', value: 'v'.repeat(16_385) } },
      ],
    },
    [
      'RouteConfiguration.request_headers_to_add[0].header.value: string.well_known_regex',
      'RouteConfiguration.request_headers_to_add[1].header.value: string.max_bytes',
    ],
  ],
  [
    'string in; message required',
    TYPE.rateLimit,
    { domain: 'd', request_type: 'sideways' },
    ['RateLimit.request_type: string.in', 'RateLimit.rate_limit_service: message.required'],
  ],
  [
    'map keys',
    TYPE.cluster,
    { name: 'c', metadata: { filter_metadata: { '': { fields: {} } } } },
    ['Cluster.metadata.filter_metadata[]<key>: string.min_len'],
  ],
  [
    'any required',
    'envoy.config.core.v3.TypedExtensionConfig',
    { name: 'x' },
    ['TypedExtensionConfig.typed_config: any.required'],
  ],
  [
    'an Any is opened and its message checked as well',
    TYPE.listener,
    {
      name: 'l',
      filter_chains: [
        {
          filters: [
            {
              name: 'hcm',
              typed_config: {
                '@type': TYPE.hcm,
                rds: { route_config_name: 'r', config_source: { ads: {} } },
              },
            },
          ],
        },
      ],
    },
    ['Listener.filter_chains[0].filters[0].typed_config<HttpConnectionManager>.stat_prefix: string.min_len'],
  ],
];

for (const [name, type, object, want] of ENVOY) {
  test(`validate rules (Envoy protos): ${name}`, () => {
    assert.deepEqual(brief(validateRules(type, object)), want);
  });
}

test('a finding says what was expected', () => {
  assert.deepEqual(
    validateRules(TYPE.listener, {
      name: 'l',
      address: { socket_address: { address: 'a', port_value: 70_000 } },
    }),
    [
      {
        path: 'Listener.address.socket_address.port_value',
        rule: 'uint32.lte',
        message: 'must be at most 65535, got 70000',
      },
    ],
  );
});

// Rules no message Trellis loads happens to use, on a message written for the test.
const root = new protobuf.Root();
for (const wkt of ['google/protobuf/duration.proto', 'google/protobuf/any.proto'])
  root.addJSON(protobuf.common.get(wkt)!.nested!);
protobuf.parse(
  `syntax = "proto3";
   package t;
   import "google/protobuf/duration.proto";
   import "google/protobuf/any.proto";
   message M {
     string p = 1 [(validate.rules).string = {prefix: "/", suffix: "z", max_len: 3}];
     string ip = 2 [(validate.rules).string = {ip: true}];
     int32 outside = 3 [(validate.rules).int32 = {gt: 10, lt: 5}];
     int32 inside = 4 [(validate.rules).int32 = {gte: 5, lte: 10}];
     double c = 5 [(validate.rules).double = {const: 1.5}];
     repeated string u = 6 [(validate.rules).repeated = {unique: true, max_items: 2, items {string {min_len: 2}}}];
     google.protobuf.Duration d = 7 [(validate.rules).duration = {required: true, lte {seconds: 1}}];
     google.protobuf.Any a = 8 [(validate.rules).any = {in: "type.googleapis.com/t.M"}];
     string email = 9 [(validate.rules).string.email = true];
     oneof o { option (validate.required) = true; string x = 10; string y = 11; }
     string h = 12 [(validate.rules).string = {well_known_regex: HTTP_HEADER_NAME}];
   }
   message Off { option (validate.disabled) = true; string s = 1 [(validate.rules).string.min_len = 1]; }`,
  root,
  { keepCase: true },
);
root.resolveAll();
const M = root.lookupType('t.M');

const SYNTHETIC: [string, object, string[]][] = [
  [
    'everything valid',
    { p: '/az', ip: '::1', outside: 11, inside: 5, c: 1.5, u: ['ab'], d: { seconds: 1 }, x: '', h: 'x-a' },
    ['M.email: string.email:unsupported'],
  ],
  [
    'prefix, suffix, max_len, ip',
    { p: 'abcd', ip: 'host', outside: 4, inside: 10, c: 1.5, d: {}, y: 'y', h: 'x' },
    [
      'M.p: string.max_len',
      'M.p: string.prefix',
      'M.p: string.suffix',
      'M.ip: string.ip',
      'M.email: string.email:unsupported',
    ],
  ],
  [
    'ranges: exclusive outside, inclusive inside; const',
    { p: '/z', ip: '10.0.0.1', outside: 7, inside: 11, c: 2, d: {}, x: 'x', h: 'x' },
    ['M.outside: int32.gt', 'M.inside: int32.lte', 'M.c: double.const', 'M.email: string.email:unsupported'],
  ],
  [
    'repeated unique, max_items and items; duration required; any in; oneof required; strict header name',
    {
      p: '/z',
      ip: '10.0.0.1',
      outside: 4,
      inside: 5,
      c: 1.5,
      u: ['ab', 'ab', 'c'],
      a: { type_url: 'type.googleapis.com/t.Off', value: new Uint8Array(0) },
      h: 'bad name',
    },
    [
      'M.u: repeated.max_items',
      'M.u: repeated.unique',
      'M.u[2]: string.min_len',
      'M.d: duration.required',
      'M.a: any.in',
      'M.email: string.email:unsupported',
      'M.o: oneof.required',
      'M.h: string.well_known_regex',
    ].sort(),
  ],
  [
    'duration lte',
    { p: '/z', ip: '::', outside: 4, inside: 5, c: 1.5, d: { seconds: 1, nanos: 1 }, x: '', h: 'x' },
    ['M.d: duration.lte', 'M.email: string.email:unsupported'],
  ],
];

for (const [name, object, want] of SYNTHETIC) {
  test(`validate rules (test message): ${name}`, () => {
    assert.deepEqual(brief(validateMessage(M, object)).sort(), [...want].sort());
  });
}

test('a message with validation disabled is not checked', () => {
  assert.deepEqual(validateMessage(root.lookupType('t.Off'), {}), []);
});
