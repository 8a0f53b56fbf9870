import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems } from '../../core/errors.js';
import type { DescriptorBuilder } from './config.js';
import { convertRateLimitFilter, convertRouteRateLimits, type RateLimitMsg } from './convert-rate-limits.js';

const REQUEST: Parameters<DescriptorBuilder>[0] = {
  headers: { ':path': '/api/x', ':method': 'GET', 'x-user': 'ann' },
  remoteAddress: '10.1.2.3',
  cluster: 'outbound|80||page.shop.svc.cluster.local',
  sourceCluster: 'web.shop',
};

function build(actions: RateLimitMsg['actions']): DescriptorBuilder {
  const problems = new Problems();
  const [builder] = convertRouteRateLimits([{ actions }], 'route.rate_limits', problems);
  assert.deepEqual(problems.errors, []);
  return builder!;
}

test('every route rate limit action produces its Envoy descriptor entry, in order', () => {
  const descriptor = build([
    { generic_key: { descriptor_value: 'shop.page.show' } },
    {
      header_value_match: {
        descriptor_value: 'matched',
        headers: [{ name: ':path', string_match: { prefix: '/api' } }],
      },
    },
    { request_headers: { header_name: 'X-User', descriptor_key: 'user' } },
    { remote_address: {} },
    { source_cluster: {} },
    { destination_cluster: {} },
  ])(REQUEST);
  assert.deepEqual(descriptor, [
    { key: 'generic_key', value: 'shop.page.show' },
    { key: 'header_match', value: 'matched' },
    { key: 'user', value: 'ann' },
    { key: 'remote_address', value: '10.1.2.3' },
    { key: 'source_cluster', value: 'web.shop' },
    { key: 'destination_cluster', value: 'outbound|80||page.shop.svc.cluster.local' },
  ]);
});

test('a descriptor is dropped when an action produces nothing, unless skip_if_absent', () => {
  const noMatch = build([
    { generic_key: { descriptor_value: 'a' } },
    {
      header_value_match: {
        descriptor_value: 'm',
        headers: [{ name: ':path', string_match: { exact: '/b' } }],
      },
    },
  ]);
  assert.equal(noMatch(REQUEST), undefined);
  const inverted = build([
    {
      header_value_match: {
        descriptor_value: 'not-b',
        expect_match: { value: false },
        headers: [{ name: ':path', string_match: { exact: '/b' } }],
      },
    },
  ]);
  assert.deepEqual(inverted(REQUEST), [{ key: 'header_match', value: 'not-b' }]);
  const missing = build([
    { generic_key: { descriptor_value: 'a' } },
    { request_headers: { header_name: 'x-tenant', descriptor_key: 't' } },
  ]);
  assert.equal(missing(REQUEST), undefined);
  const skipped = build([
    { generic_key: { descriptor_value: 'a' } },
    { request_headers: { header_name: 'x-tenant', descriptor_key: 't', skip_if_absent: true } },
  ]);
  assert.deepEqual(skipped(REQUEST), [{ key: 'generic_key', value: 'a' }]);
});

test('unsupported actions and filter settings are refused with their field paths', () => {
  const problems = new Problems();
  convertRouteRateLimits([{ actions: [{ masked_remote_address: {} }] }], 'r.rate_limits', problems);
  assert.deepEqual(
    problems.errors.map((p) => p.path),
    ['r.rate_limits[0].actions[0]'],
  );
  const filterProblems = new Problems();
  const config = convertRateLimitFilter(
    { domain: 'trellis', failure_mode_deny: true, rate_limit_service: { grpc_service: { google_grpc: {} } } },
    'f',
    filterProblems,
  );
  assert.equal(config, undefined);
  assert.deepEqual(
    filterProblems.errors.map((p) => p.path),
    ['f.rate_limit_service.grpc_service.envoy_grpc.cluster_name'],
  );
});

test('the filter keeps timeout (Envoy default 20ms), failure_mode_deny and the x-ratelimit headers', () => {
  const problems = new Problems();
  const base = {
    domain: 'trellis',
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'rls' } } },
  };
  assert.deepEqual(convertRateLimitFilter(base, 'f', problems), {
    domain: 'trellis',
    cluster: 'rls',
    timeoutMs: 20,
    failureModeDeny: false,
    xRateLimitHeaders: false,
  });
  assert.deepEqual(
    convertRateLimitFilter(
      {
        ...base,
        timeout: { nanos: 100_000_000 },
        failure_mode_deny: true,
        enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
      },
      'f',
      problems,
    ),
    { domain: 'trellis', cluster: 'rls', timeoutMs: 100, failureModeDeny: true, xRateLimitHeaders: true },
  );
  assert.deepEqual(problems.errors, []);
});
