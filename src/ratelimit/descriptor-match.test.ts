import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDomains, parseConfigYaml, validateDomains, type CompiledDomain } from './config.js';
import {
  applyReplaces,
  matchDescriptor,
  type DescriptorEntry,
  type MatchedLimit,
} from './descriptor-match.js';
import { README_EXAMPLES } from './testdata/readme-examples.js';

function domainOf(yaml: string): CompiledDomain {
  const [d] = compileDomains(validateDomains(parseConfigYaml(yaml, 'test.yaml'))).values();
  return d!;
}

function entries(...pairs: [string, string][]): DescriptorEntry[] {
  return pairs.map(([key, value]) => ({ key, value }));
}

/** [example, request descriptor, expected stat key of the matched limit (undefined: none), requests_per_unit] */
const TABLE: [string, DescriptorEntry[], string | undefined, number | undefined][] = [
  ['example1', entries(['database', 'users']), 'database_users', 500],
  ['example1', entries(['database', 'other']), undefined, undefined],
  [
    'example2',
    entries(['message_type', 'marketing'], ['to_number', '2061111111']),
    'message_type_marketing.to_number',
    5,
  ],
  ['example2', entries(['message_type', 'marketing']), undefined, undefined],
  ['example2', entries(['message_type', 'transactional'], ['to_number', '2061111111']), undefined, undefined],
  ['example2', entries(['to_number', '2061111111']), 'to_number', 100],
  ['example3', entries(['remote_address', '50.0.0.1']), 'remote_address', 10],
  ['example3', entries(['remote_address', '50.0.0.5']), 'remote_address_50.0.0.5', 0],
  ['example4', entries(['key', 'value'], ['subkey', 'subvalue']), 'key_value.subkey', 300],
  ['example4', entries(['key', 'value']), undefined, undefined],
  ['example6', entries(['service', 'auth-service'], ['user', 'user-a']), 'service.user_user-a', 10],
  ['example6', entries(['service', 'auth-service'], ['user', 'user-b']), 'service.user_user-b', 20],
  ['example6', entries(['service', 'auth-service'], ['user', 'user-c']), undefined, undefined],
  ['example8', entries(['key1', 'unspecified_value']), 'key1_unspecified_value', 10],
  ['example8', entries(['key1', 'value1']), 'key1_value1', 20],
  ['example9', entries(['key1', 'value_1']), 'key1_value*', 20],
  ['example9', entries(['key1', 'other']), undefined, undefined],
];

test('descriptor matching: README examples, most specific match wins', () => {
  for (const [example, request, statKey, rpu] of TABLE) {
    const m = matchDescriptor(domainOf(README_EXAMPLES[example]!), request);
    const label = `${example} ${JSON.stringify(request)}`;
    assert.equal(m?.statKey, statKey, label);
    assert.equal(m?.limit.requestsPerUnit, rpu, label);
  }
});

test('descriptor matching: a nested key-only node matches any value, and longest prefix wins', () => {
  const d = domainOf(`
domain: api
descriptors:
  - key: path
    value: /api/*
    rate_limit: { unit: second, requests_per_unit: 1 }
  - key: path
    value: /api/admin/*
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: path
    value: /api/admin/login
    rate_limit: { unit: second, requests_per_unit: 3 }
  - key: tenant
    descriptors:
      - key: user
        descriptors:
          - key: method
            value: POST
            rate_limit: { unit: minute, requests_per_unit: 4 }
`);
  const table: [DescriptorEntry[], number | undefined][] = [
    [entries(['path', '/api/x']), 1],
    [entries(['path', '/api/admin/users']), 2],
    [entries(['path', '/api/admin/login']), 3],
    [entries(['path', '/web']), undefined],
    [entries(['tenant', 't1'], ['user', 'u1'], ['method', 'POST']), 4],
    [entries(['tenant', 't2'], ['user', 'u9'], ['method', 'POST']), 4],
    [entries(['tenant', 't1'], ['user', 'u1'], ['method', 'GET']), undefined],
    [entries(['tenant', 't1'], ['user', 'u1']), undefined],
    [entries(['user', 'u1'], ['tenant', 't1'], ['method', 'POST']), undefined],
  ];
  for (const [request, rpu] of table) {
    assert.equal(matchDescriptor(d, request)?.limit.requestsPerUnit, rpu, JSON.stringify(request));
  }
});

test('descriptor matching: replaces drops the named limit for that request only', () => {
  const d = domainOf(README_EXAMPLES.example7!);
  const a = matchDescriptor(d, entries(['key_1', 'value_1'], ['user', 'bkthomps']));
  const b = matchDescriptor(d, entries(['key_2', 'value_2'], ['user', 'bkthomps']));
  assert.equal(a?.limit.name, 'specific_limit');
  const table: [(MatchedLimit | undefined)[], (number | undefined)[]][] = [
    [[a], [5]],
    [[b], [10]],
    [
      [a, b],
      [undefined, 10],
    ],
    [
      [b, a, undefined],
      [10, undefined, undefined],
    ],
  ];
  for (const [input, expected] of table) {
    assert.deepEqual(
      applyReplaces(input).map((m) => m?.limit.requestsPerUnit),
      expected,
    );
  }
});
