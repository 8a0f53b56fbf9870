import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { parseAndValidate } from '../../api/parse.js';
import type { Resource } from '../../api/resource.js';
import type { RateLimitSpec } from '../../api/trellis/types.js';
import { compileRateLimits } from './compile.js';
import { buildRateLimitServiceConfig } from './domain-config.js';

function resources(yaml: string): Resource<RateLimitSpec>[] {
  return parseAndValidate(yaml, 'test.yaml').map((d, i) => {
    assert.deepEqual(d.problems, [], `document ${i + 1}`);
    assert.ok(d.resource);
    // Creation order decides precedence; give documents increasing timestamps.
    return {
      ...d.resource,
      metadata: { ...d.resource.metadata, creationTimestamp: `2026-01-01T00:00:0${i}Z` },
    } as Resource<RateLimitSpec>;
  });
}

const YAML = `apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: page-show, namespace: shop }
spec:
  hosts: [page]
  port: 80
  mode: global
  limits:
  - name: show
    match: { path: { exact: /Page.Show } }
    quota: { requests: 800, per: second }
  - name: per-user
    quota: { requests: 10, per: minute, burst: 20 }
    perKey: { header: x-user-id }
---
apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: login, namespace: auth }
spec:
  hosts: [login.auth.svc.cluster.local]
  mode: global
  side: client
  shadow: true
  limits:
  - name: by-ip
    match: { method: POST }
    quota: { requests: 5, per: hour }
    perKey: { sourceIp: true }
---
apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: local-only, namespace: shop }
spec:
  hosts: [page]
  limits:
  - name: all
    quota: { requests: 100, per: second }
`;

test('the domain config is envoyproxy/ratelimit YAML: one branch per global limit, mirroring its descriptor', () => {
  const expected = parse(`
domains:
- domain: trellis
  descriptors:
  - key: generic_key
    value: shop.page-show.show
    descriptors:
    - key: header_match
      value: matched
      rate_limit: { unit: second, requests_per_unit: 800, algorithm: token_bucket }
  - key: generic_key
    value: shop.page-show.per-user
    descriptors:
    - key: x-user-id
      rate_limit: { unit: minute, requests_per_unit: 10, algorithm: token_bucket, burst: 20 }
  - key: generic_key
    value: auth.login.by-ip
    descriptors:
    - key: header_match
      value: matched
      descriptors:
      - key: remote_address
        rate_limit: { unit: hour, requests_per_unit: 5, algorithm: token_bucket }
        shadow_mode: true
`) as unknown;
  assert.deepEqual(buildRateLimitServiceConfig(compileRateLimits(resources(YAML))), expected);
});

test('compiling resolves short hosts, orders by creation, and names limits namespace.name.limit', () => {
  const limits = compileRateLimits(resources(YAML).reverse());
  assert.deepEqual(
    limits.map((l) => [l.id, l.hosts, l.mode, l.side, l.conditional]),
    [
      ['shop.page-show.show', ['page.shop.svc.cluster.local'], 'global', 'server', true],
      ['shop.page-show.per-user', ['page.shop.svc.cluster.local'], 'global', 'server', false],
      ['auth.login.by-ip', ['login.auth.svc.cluster.local'], 'global', 'client', true],
      ['shop.local-only.all', ['page.shop.svc.cluster.local'], 'local', 'server', false],
    ],
  );
  assert.equal(new Set(limits.map((l) => l.fp)).size, 4, 'every limit has its own fingerprint');
});

test('with no global limits the domain is still served, empty', () => {
  assert.deepEqual(buildRateLimitServiceConfig([]), { domains: [{ domain: 'trellis', descriptors: [] }] });
});
