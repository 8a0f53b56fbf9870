import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import { isTrellisError } from '../core/errors.js';
import type { CounterCheck, RateLimitBackend } from './backend/backend.js';
import { MemoryBackend } from './backend/memory.js';
import { parseConfigYaml } from './config.js';
import { RateLimitService, type RateLimitRequest } from './service.js';
import { README_EXAMPLES } from './testdata/readme-examples.js';

function serviceWith(
  yaml: string,
  options: { responseHeaders?: boolean; failureModeDeny?: boolean; backend?: RateLimitBackend } = {},
) {
  const clock = new FakeClock(1_000_000);
  const service = new RateLimitService({
    clock,
    backend: options.backend ?? new MemoryBackend({ clock }),
    ...options,
  });
  service.setConfig(parseConfigYaml(yaml, 'test.yaml'));
  return { service, clock };
}

function req(domain: string, ...descriptors: [string, string][][]): RateLimitRequest {
  return {
    domain,
    descriptors: descriptors.map((pairs) => ({ entries: pairs.map(([key, value]) => ({ key, value })) })),
  };
}

test('service: statuses carry the limit, what remains and when it resets', async () => {
  const { service } = serviceWith(README_EXAMPLES.example2!);
  const r = await service.shouldRateLimit(
    req(
      'messaging',
      [
        ['message_type', 'marketing'],
        ['to_number', '2061111111'],
      ],
      [['to_number', '2061111111']],
    ),
  );
  assert.deepEqual(r, {
    overall_code: 'OK',
    statuses: [
      {
        code: 'OK',
        current_limit: { requests_per_unit: 5, unit: 'DAY' },
        limit_remaining: 4,
        duration_until_reset: { seconds: 17280, nanos: 0 },
      },
      {
        code: 'OK',
        current_limit: { requests_per_unit: 100, unit: 'DAY' },
        limit_remaining: 99,
        duration_until_reset: { seconds: 864, nanos: 0 },
      },
    ],
  });
});

test('service: a key without a value gives every value its own quota', async () => {
  const { service } = serviceWith(README_EXAMPLES.example3!);
  const codes = async (ip: string, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++)
      out.push(
        (await service.shouldRateLimit(req('edge_proxy_per_ip', [['remote_address', ip]]))).overall_code,
      );
    return out;
  };
  assert.deepEqual(await codes('10.0.0.1', 11), [...Array<string>(10).fill('OK'), 'OVER_LIMIT']);
  assert.deepEqual(await codes('10.0.0.2', 1), ['OK'], 'another address has its own counter');
  assert.deepEqual(await codes('50.0.0.5', 1), ['OVER_LIMIT'], 'the blacklisted address gets 0');
});

test('service: unlimited, unknown domains and unmatched descriptors answer OK', async () => {
  const { service } = serviceWith(README_EXAMPLES.example5!);
  const r = await service.shouldRateLimit(req('internal', [['ldap', 'x']], [['nothing', 'here']]));
  assert.deepEqual(r.statuses, [{ code: 'OK', limit_remaining: 0xffffffff }, { code: 'OK' }]);
  const unknown = await service.shouldRateLimit(req('nope', [['ldap', 'x']]));
  assert.deepEqual(unknown, { overall_code: 'OK', statuses: [{ code: 'OK' }] });
});

test('service: shadow mode counts and reports but answers OK', async () => {
  const { service } = serviceWith(README_EXAMPLES.example6!);
  const answers = [];
  for (let i = 0; i < 12; i++)
    answers.push(
      await service.shouldRateLimit(
        req('example6', [
          ['service', 'auth'],
          ['user', 'user-a'],
        ]),
      ),
    );
  assert.ok(answers.every((a) => a.overall_code === 'OK'));
  assert.equal(answers[11]!.statuses[0]!.limit_remaining, 0);
  const c = service.metrics.rule('example6', 'service.user_user-a');
  assert.deepEqual([c.totalHits, c.overLimit, c.shadowMode], [12, 2, 2]);
  assert.match(
    service.metrics.render(),
    /trellis_ratelimit_shadow_mode\{domain="example6",descriptor="service.user_user-a"\} 2/,
  );
});

test('service: a replaced limit is neither applied nor counted', async () => {
  const { service } = serviceWith(README_EXAMPLES.example7!);
  const a: [string, string][] = [
    ['key_1', 'value_1'],
    ['user', 'bkthomps'],
  ];
  const b: [string, string][] = [
    ['key_2', 'value_2'],
    ['user', 'bkthomps'],
  ];
  for (let i = 0; i < 8; i++) {
    const r = await service.shouldRateLimit(req('example7', a, b));
    assert.equal(r.overall_code, 'OK', `request ${i}`);
    assert.deepEqual(r.statuses[0], { code: 'OK' });
  }
  const alone = await service.shouldRateLimit(req('example7', a));
  assert.equal(alone.statuses[0]!.limit_remaining, 4, 'specific_limit was untouched by the 8 requests');
});

test('service: hits_addend and x-ratelimit headers for the most restrictive descriptor', async () => {
  const { service } = serviceWith(README_EXAMPLES.example2!, { responseHeaders: true });
  const r = await service.shouldRateLimit({
    ...req(
      'messaging',
      [['to_number', '1']],
      [
        ['message_type', 'marketing'],
        ['to_number', '1'],
      ],
    ),
    hits_addend: 3,
  });
  assert.deepEqual(
    r.statuses.map((s) => s.limit_remaining),
    [97, 2],
  );
  assert.deepEqual(r.response_headers_to_add, [
    { key: 'x-ratelimit-limit', value: '5' },
    { key: 'x-ratelimit-remaining', value: '2' },
    { key: 'x-ratelimit-reset', value: '51840' },
  ]);
});

test('service: a limit sent in the request overrides the configured one', async () => {
  const { service } = serviceWith(README_EXAMPLES.example1!);
  const r = await service.shouldRateLimit({
    domain: 'mongo_cps',
    descriptors: [
      { entries: [{ key: 'database', value: 'users' }], limit: { requests_per_unit: 1, unit: 'MINUTE' } },
    ],
  });
  assert.deepEqual(r.statuses[0]!.current_limit, { requests_per_unit: 1, unit: 'MINUTE' });
  assert.equal(
    (
      await service.shouldRateLimit({
        domain: 'mongo_cps',
        descriptors: [
          { entries: [{ key: 'database', value: 'users' }], limit: { requests_per_unit: 1, unit: 'MINUTE' } },
        ],
      })
    ).overall_code,
    'OVER_LIMIT',
  );
});

test('service: malformed requests are refused as invalid arguments', async () => {
  const { service } = serviceWith(README_EXAMPLES.example1!);
  await assert.rejects(service.shouldRateLimit({ domain: '', descriptors: [] }), (e: unknown) =>
    isTrellisError(e, 'TRELLIS_INVALID_ARGUMENT'),
  );
  await assert.rejects(service.shouldRateLimit({ domain: 'mongo_cps' }), /descriptor list must not be empty/);
});

class BrokenBackend implements RateLimitBackend {
  readonly kind = 'redis';
  async check(_checks: readonly CounterCheck[]): Promise<never> {
    throw new Error('connection refused');
  }
  isUp() {
    return false;
  }
  onStatusChange() {}
  size() {
    return 0;
  }
  async close() {}
}

test('service: when the store fails, fail open by default and closed when asked', async () => {
  const open = serviceWith(README_EXAMPLES.example6!, { backend: new BrokenBackend() }).service;
  const closed = serviceWith(README_EXAMPLES.example6!, {
    backend: new BrokenBackend(),
    failureModeDeny: true,
  }).service;
  const request = req('example6', [
    ['service', 's'],
    ['user', 'user-b'],
  ]);
  assert.equal((await open.shouldRateLimit(request)).overall_code, 'OK');
  assert.equal((await closed.shouldRateLimit(request)).overall_code, 'OVER_LIMIT');
  const shadow = req('example6', [
    ['service', 's'],
    ['user', 'user-a'],
  ]);
  assert.equal((await closed.shouldRateLimit(shadow)).overall_code, 'OK', 'shadow mode still answers OK');
  assert.equal(closed.metrics.rule('example6', 'service.user_user-b').errors, 1);
  assert.match(closed.metrics.render(), /trellis_ratelimit_redis_up\{backend="redis"\} 0/);
});

test('service: an invalid setConfig is refused and the last good config stays', async () => {
  const { service } = serviceWith(README_EXAMPLES.example1!);
  assert.throws(
    () =>
      service.setConfig(
        [{ domain: 'mongo_cps', descriptors: [{ key: 'database', rate_limit: { unit: 'week' } }] }],
        'control-plane',
      ),
    (e: unknown) =>
      isTrellisError(e, 'TRELLIS_INVALID_CONFIG') &&
      e.file === 'control-plane' &&
      /descriptors\[0\]\.rate_limit\.unit/.test(e.message),
  );
  assert.equal(service.config()[0]!.domain, 'mongo_cps');
  const r = await service.shouldRateLimit(req('mongo_cps', [['database', 'users']]));
  assert.equal(r.statuses[0]!.current_limit?.requests_per_unit, 500);
  service.setConfig([
    {
      domain: 'mongo_cps',
      descriptors: [{ key: 'database', rate_limit: { unit: 'minute', requests_per_unit: 7 } }],
    },
  ]);
  const after = await service.shouldRateLimit(req('mongo_cps', [['database', 'users']]));
  assert.deepEqual(after.statuses[0]!.current_limit, { requests_per_unit: 7, unit: 'MINUTE' });
});

test('service: fixed_window counts every hit in the window and reports near_limit', async () => {
  const { service, clock } = serviceWith(`
domain: api
descriptors:
  - key: client
    rate_limit: { unit: minute, requests_per_unit: 5, algorithm: fixed_window }
`);
  const codes: string[] = [];
  for (let i = 0; i < 7; i++)
    codes.push((await service.shouldRateLimit(req('api', [['client', 'c1']]))).overall_code);
  assert.deepEqual(codes, ['OK', 'OK', 'OK', 'OK', 'OK', 'OVER_LIMIT', 'OVER_LIMIT']);
  const c = service.metrics.rule('api', 'client');
  assert.deepEqual([c.totalHits, c.nearLimit, c.overLimit], [7, 1, 2]);
  clock.advance(60_000);
  assert.equal(
    (await service.shouldRateLimit(req('api', [['client', 'c1']]))).overall_code,
    'OK',
    'next window',
  );
});
