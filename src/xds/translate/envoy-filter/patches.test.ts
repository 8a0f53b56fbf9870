/** Patch values decode as the Envoy message their applyTo names; those that do not are reported and skipped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../../core/errors.js';
import { FrozenSnapshot } from '../../../config/snapshot.js';
import { decodeEnvoyFilter } from './patches.js';
import { envoyFilterDerivation } from './derivation.js';
import { envoyFilter, LOCAL_LIMIT_ROUTE_VALUE } from './testing.js';

const LOCAL_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

test('values decode from proto3 JSON: snake_case or camelCase names, durations, enums, @type', () => {
  const d = decodeEnvoyFilter(
    envoyFilter('default', 'ok', {
      configPatches: [
        { applyTo: 'HTTP_ROUTE', patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE } },
        {
          applyTo: 'CLUSTER',
          patch: { operation: 'MERGE', value: { connectTimeout: '0.250s', lbPolicy: 'RING_HASH' } },
        },
        { applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } },
      ],
    }),
  );
  assert.deepEqual(d.problems, []);
  assert.deepEqual(
    d.patches.map((p) => [p.index, p.applyTo, p.operation]),
    [
      [0, 'HTTP_ROUTE', 'MERGE'],
      [1, 'CLUSTER', 'MERGE'],
      [2, 'CLUSTER', 'REMOVE'],
    ],
  );
  assert.deepEqual(d.patches[1]?.value, { connect_timeout: { nanos: 250_000_000 }, lb_policy: 'RING_HASH' });
});

test('a value that is not its message is reported with the patch path and skipped; the other patches stay', () => {
  const cases: { value: object; path: RegExp; message: RegExp }[] = [
    {
      value: { conect_timeout: '1s' },
      path: /^spec\.configPatches\[1\]\.patch\.value\.conect_timeout$/,
      message: /unknown field \(did you mean connect_timeout\?\)/,
    },
    { value: { connect_timeout: 5 }, path: /connect_timeout$/, message: /expected a duration such as "1s"/ },
    {
      value: { lb_policy: 'FASTEST' },
      path: /lb_policy$/,
      message: /expected one of ROUND_ROBIN, .*got "FASTEST"/,
    },
    {
      value: {
        typed_extension_protocol_options: {
          x: { '@type': 'type.googleapis.com/envoy.config.filter.http.fault.v2.HTTPFault' },
        },
      },
      path: /typed_extension_protocol_options\[x\]\.@type$/,
      message: /expected the type URL of a message Trellis knows/,
    },
  ];
  for (const c of cases) {
    const d = decodeEnvoyFilter(
      envoyFilter('default', 'bad', {
        configPatches: [
          { applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } },
          { applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: c.value as Record<string, unknown> } },
        ],
      }),
    );
    assert.deepEqual(
      d.patches.map((p) => p.index),
      [0],
      JSON.stringify(c.value),
    );
    assert.equal(d.problems.length, 1, JSON.stringify(d.problems));
    assert.match(d.problems[0]?.path ?? '', c.path);
    assert.match(d.problems[0]?.message ?? '', c.message);
    assert.match(d.problems[0]?.message ?? '', /this patch is skipped/);
  }
});

test('an HTTP filter with a typed config of another message type is reported', () => {
  const d = decodeEnvoyFilter(
    envoyFilter('default', 'f', {
      configPatches: [
        {
          applyTo: 'HTTP_FILTER',
          patch: {
            operation: 'ADD',
            value: { name: 'x', typed_config: { '@type': LOCAL_RL, token_bucket: { max_tokens: 'many' } } },
          },
        },
      ],
    }),
  );
  assert.equal(d.patches.length, 0);
  assert.deepEqual(d.problems.map(formatProblem), [
    'spec.configPatches[0].patch.value.typed_config<LocalRateLimit>.token_bucket.max_tokens: expected a whole number, got "many"; this patch is skipped (it is not envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter as proto3 JSON)',
  ]);
});

test('the control plane derivation lists undecodable patches by EnvoyFilter and changes no resource', () => {
  const good = envoyFilter('default', 'good', {
    configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } }],
  });
  const bad = envoyFilter('shop', 'bad', {
    configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: { nope: 1 } } }],
  });
  const result = envoyFilterDerivation.derive(new FrozenSnapshot(1, [good, bad]));
  assert.equal(result.put, undefined);
  assert.equal(result.remove, undefined);
  assert.deepEqual(
    result.problems?.map((p) => [p.source, p.problems.map((x) => x.path)]),
    [[{ kind: 'EnvoyFilter', namespace: 'shop', name: 'bad' }, ['spec.configPatches[0].patch.value.nope']]],
  );
});

test('the derivation warns about a CLUSTER patch taking endpoints over EDS (it is not served)', () => {
  const eds = envoyFilter('shop', 'eds', {
    configPatches: [
      { applyTo: 'CLUSTER', patch: { operation: 'ADD', value: { name: 'static', type: 'STATIC' } } },
      { applyTo: 'CLUSTER', patch: { operation: 'ADD', value: { name: 'mine', type: 'EDS' } } },
    ],
  });
  const result = envoyFilterDerivation.derive(new FrozenSnapshot(1, [eds]));
  assert.deepEqual(
    result.problems?.map((p) => [p.source.name, p.problems.map((x) => `${x.severity} ${x.path}`)]),
    [['eds', ['warning spec.configPatches[1].patch.value']]],
  );
});
