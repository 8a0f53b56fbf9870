import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCorsPolicy, type CorsPolicyConfig } from './cors.js';

const policy: CorsPolicyConfig = {
  allow_origin_string_match: [{ exact: 'https://app.example.com' }, { suffix: '.trusted.io' }],
  allow_methods: 'GET,POST',
  allow_headers: 'content-type,x-token',
  expose_headers: 'x-request-id',
  max_age: '600',
  allow_credentials: { value: true },
};
const rnd = () => 0.5;

test('CORS decisions table', () => {
  const decide = compileCorsPolicy(policy);
  const cases: [Record<string, string>, ReturnType<typeof decide>][] = [
    [{ ':method': 'GET' }, { kind: 'not-cors' }],
    [{ ':method': 'GET', origin: 'https://evil.com' }, { kind: 'not-cors' }],
    [
      { ':method': 'GET', origin: 'https://app.example.com' },
      {
        kind: 'actual',
        responseHeaders: {
          'access-control-allow-origin': 'https://app.example.com',
          'access-control-allow-credentials': 'true',
          'access-control-expose-headers': 'x-request-id',
        },
      },
    ],
    [
      { ':method': 'OPTIONS', origin: 'https://x.trusted.io', 'access-control-request-method': 'POST' },
      {
        kind: 'preflight',
        status: 200,
        headers: {
          'access-control-allow-origin': 'https://x.trusted.io',
          'access-control-allow-credentials': 'true',
          'access-control-allow-methods': 'GET,POST',
          'access-control-allow-headers': 'content-type,x-token',
          'access-control-max-age': '600',
        },
      },
    ],
    // An OPTIONS without Access-Control-Request-Method is an ordinary request.
    [
      { ':method': 'OPTIONS', origin: 'https://x.trusted.io' },
      {
        kind: 'actual',
        responseHeaders: {
          'access-control-allow-origin': 'https://x.trusted.io',
          'access-control-allow-credentials': 'true',
          'access-control-expose-headers': 'x-request-id',
        },
      },
    ],
    [
      { ':method': 'OPTIONS', origin: 'https://evil.com', 'access-control-request-method': 'GET' },
      { kind: 'forward' },
    ],
  ];
  for (const [headers, want] of cases) assert.deepEqual(decide(headers, rnd), want, JSON.stringify(headers));
});

test('wildcard matcher, unmatched preflights answered locally, private network, disabled policy', () => {
  const any = compileCorsPolicy({
    allow_origin_string_match: [{ exact: '*' }],
    forward_not_matching_preflights: { value: false },
    allow_private_network_access: { value: true },
  });
  const d = any(
    {
      ':method': 'OPTIONS',
      origin: 'http://a.b',
      'access-control-request-method': 'GET',
      'access-control-request-private-network': 'true',
    },
    rnd,
  );
  assert.deepEqual(d, {
    kind: 'preflight',
    status: 200,
    headers: { 'access-control-allow-origin': 'http://a.b', 'access-control-allow-private-network': 'true' },
  });
  const strict = compileCorsPolicy({
    allow_origin_string_match: [{ exact: 'https://ok' }],
    forward_not_matching_preflights: { value: false },
  });
  assert.deepEqual(
    strict({ ':method': 'OPTIONS', origin: 'https://no', 'access-control-request-method': 'GET' }, rnd),
    {
      kind: 'preflight',
      status: 200,
      headers: {},
    },
  );
  const off = compileCorsPolicy({ ...policy, filter_enabled: { default_value: { numerator: 0 } } });
  assert.deepEqual(off({ ':method': 'GET', origin: 'https://app.example.com' }, rnd), { kind: 'not-cors' });
});
