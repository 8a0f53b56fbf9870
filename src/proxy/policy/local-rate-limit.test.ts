import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.js';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import { LocalRateLimiter, type LocalRateLimitConfig } from './local-rate-limit.js';

const ON = { default_value: { numerator: 100, denominator: 'HUNDRED' as const }, runtime_key: 'k' };

function limiter(config: Partial<LocalRateLimitConfig>) {
  const clock = new FakeClock(0);
  const l = new LocalRateLimiter(
    {
      stat_prefix: 'http_local_rate_limiter',
      token_bucket: { max_tokens: 2, tokens_per_fill: { value: 1 }, fill_interval: { seconds: 1 } },
      filter_enabled: ON,
      filter_enforced: ON,
      ...config,
    },
    { clock, random: seededRandom(1) },
    'lrl',
  );
  return { l, clock };
}

test('token bucket allows max_tokens, then denies with 429 and x-envoy-ratelimited; refills per interval', () => {
  const { l, clock } = limiter({
    response_headers_to_add: [{ header: { key: 'X-Local-Rate-Limit', value: 'true' } }],
  });
  assert.equal(l.check().allow, true);
  assert.equal(l.check().allow, true);
  const denied = l.check();
  assert.equal(denied.allow, false);
  assert.equal(denied.status, 429);
  assert.deepEqual(denied.responseHeaders, [
    ['x-local-rate-limit', 'true'],
    ['x-envoy-ratelimited', 'true'],
  ]);
  clock.advance(999);
  assert.equal(l.check().allow, false);
  clock.advance(1);
  assert.equal(l.check().allow, true);
  assert.deepEqual(l.stats, { enabled: 5, enforced: 2, ok: 3, rate_limited: 2 });
});

test('filter_enabled and filter_enforced default to 0%', () => {
  const { l } = limiter({ filter_enabled: undefined, filter_enforced: undefined });
  for (let i = 0; i < 5; i++) assert.equal(l.check().allow, true);
  assert.equal(l.stats.enabled, 0);
  const shadow = limiter({
    filter_enforced: undefined,
    request_headers_to_add_when_not_enforced: [{ header: { key: 'x-rl-shadow', value: '1' } }],
  }).l;
  shadow.check();
  shadow.check();
  const over = shadow.check();
  assert.equal(over.allow, true);
  assert.deepEqual(over.requestHeaders, [['x-rl-shadow', '1']]);
  assert.equal(shadow.stats.rate_limited, 1);
  assert.equal(shadow.stats.enforced, 0);
});

test('x-ratelimit headers (DRAFT_VERSION_03) and custom status', () => {
  const { l, clock } = limiter({
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    status: { code: 'ServiceUnavailable' },
  });
  clock.advance(300);
  assert.deepEqual(l.check().responseHeaders, [
    ['x-ratelimit-limit', '2'],
    ['x-ratelimit-remaining', '1'],
    ['x-ratelimit-reset', '1'],
  ]);
  l.check();
  const denied = l.check();
  assert.equal(denied.status, 503);
  assert.ok(denied.responseHeaders.some(([k, v]) => k === 'x-ratelimit-remaining' && v === '0'));
});

test('bad configs are refused with a path', () => {
  const bad: [Partial<LocalRateLimitConfig>, string, string][] = [
    [{ token_bucket: undefined }, 'TRELLIS_INVALID_CONFIG', 'lrl.token_bucket'],
    [
      { token_bucket: { max_tokens: 0, fill_interval: { seconds: 1 } } },
      'TRELLIS_INVALID_CONFIG',
      'lrl.token_bucket.max_tokens',
    ],
    [
      { token_bucket: { max_tokens: 5, fill_interval: { nanos: 10_000_000 } } },
      'TRELLIS_INVALID_CONFIG',
      'lrl.token_bucket.fill_interval',
    ],
    [{ status: { code: 'OK' } }, 'TRELLIS_INVALID_CONFIG', 'lrl.status.code'],
    [{ descriptors: [{ entries: [] }] }, 'TRELLIS_UNSUPPORTED', 'lrl.descriptors'],
  ];
  for (const [config, code, path] of bad) {
    assert.throws(
      () => limiter(config),
      (e: unknown) => isTrellisError(e) && e.code === code && e.path === path,
      path,
    );
  }
});
