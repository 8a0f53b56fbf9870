/**
 * The round trip a global limit depends on: the route `rate_limits` actions we send a proxy
 * produce, for a given request, descriptors that land on exactly the config node the rate limit
 * service was given for that limit. The actions are evaluated here the way Envoy evaluates them
 * (an entry per action, in order; no descriptor at all if any action produces nothing), and the
 * config tree is walked the way envoyproxy/ratelimit walks it (exact key+value, else key alone;
 * the limit sits on the node of the last entry).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import RE2 from 're2';
import type { Resource } from '../../api/resource.js';
import type { RateLimitSpec } from '../../api/trellis/types.js';
import {
  buildRateLimitServiceConfig,
  type DescriptorNodeConfig,
} from '../../controllers/ratelimit/domain-config.js';
import { TYPE, unpackAny, type AnyMessage } from '../../protocol/protos.js';
import { buildPushContext, generate } from './index.js';
import { config, endpoint, http, proxy, registry, res, service, type Loose } from './testkit.js';

const PAGE = 'page.shop.svc.cluster.local';

interface Request {
  path: string;
  method: string;
  headers: Record<string, string>;
  remoteAddress: string;
}

interface Entry {
  key: string;
  value: string;
}

function headerValue(req: Request, name: string): string | undefined {
  if (name === ':path') return req.path;
  if (name === ':method') return req.method;
  return req.headers[name];
}

function headerMatches(m: Loose, req: Request): boolean {
  const v = headerValue(req, String(m.name));
  if (v === undefined) return false;
  if (m.present_match === true) return true;
  const sm = m.string_match;
  if (sm.exact !== undefined) return v === sm.exact;
  if (sm.prefix !== undefined) return v.startsWith(String(sm.prefix));
  // Envoy's safe_regex matches the whole value.
  return new RE2(`^(?:${String(sm.safe_regex.regex)})$`, 'u').test(v);
}

/** Envoy's RateLimitPolicy: one descriptor per rate_limits entry whose actions all produce. */
function descriptorsOf(rateLimits: Loose[], req: Request): Entry[][] {
  const out: Entry[][] = [];
  for (const rl of rateLimits) {
    const entries: Entry[] = [];
    let complete = true;
    for (const a of rl.actions as Loose[]) {
      if (a.generic_key) {
        entries.push({
          key: a.generic_key.descriptor_key || 'generic_key',
          value: a.generic_key.descriptor_value,
        });
      } else if (a.header_value_match) {
        const hv = a.header_value_match;
        const all = (hv.headers as Loose[]).every((h) => headerMatches(h, req));
        if (all !== (hv.expect_match?.value ?? true)) complete = false;
        else entries.push({ key: hv.descriptor_key || 'header_match', value: hv.descriptor_value });
      } else if (a.request_headers) {
        const v = req.headers[a.request_headers.header_name];
        if (v === undefined) complete = false;
        else entries.push({ key: a.request_headers.descriptor_key, value: v });
      } else if (a.remote_address) {
        entries.push({ key: 'remote_address', value: req.remoteAddress });
      } else {
        throw new Error(`action not simulated: ${JSON.stringify(a)}`);
      }
    }
    if (complete) out.push(entries);
  }
  return out;
}

/** envoyproxy/ratelimit's lookup: the node of the last entry, if it carries a limit. */
function lookup(nodes: DescriptorNodeConfig[], entries: Entry[]): DescriptorNodeConfig | undefined {
  let level: DescriptorNodeConfig[] | undefined = nodes;
  let node: DescriptorNodeConfig | undefined;
  for (const e of entries) {
    node =
      level?.find((n) => n.key === e.key && n.value === e.value) ??
      level?.find((n) => n.key === e.key && n.value === undefined);
    if (node === undefined) return undefined;
    level = node.descriptors;
  }
  return node?.rate_limit !== undefined ? node : undefined;
}

const SPEC: RateLimitSpec = {
  hosts: ['page'],
  mode: 'global',
  limits: [
    {
      name: 'show',
      match: { path: { exact: '/Page.Show' }, method: 'GET' },
      quota: { requests: 800, per: 'second' },
    },
    { name: 'per-user', quota: { requests: 10, per: 'minute', burst: 15 }, perKey: { header: 'x-user-id' } },
    {
      name: 'free-ip',
      match: { path: { regex: '/api/v[0-9]+/.*' }, headers: { 'x-tier': { exact: 'free' } } },
      quota: { requests: 5, per: 'hour' },
      perKey: { sourceIp: true },
    },
  ],
};

function setup(): { rateLimits: Loose[]; domain: DescriptorNodeConfig[] } {
  const rl: Resource<RateLimitSpec> = {
    ...res('RateLimit', 'shop', 'page', SPEC),
    apiVersion: 'trellis.io/v1alpha1',
  };
  const push = buildPushContext(
    config([rl]),
    registry([service(PAGE, [http(80)])], [endpoint(PAGE, '10.0.0.5')]),
  );
  const listeners = generate(push, proxy({ ipAddresses: ['10.0.0.5'], namespace: 'shop' }), TYPE.listener);
  const l = listeners.get('inbound|80||') as Loose;
  const hcm = unpackAny<Loose>(l.filter_chains[0].filters[0].typed_config as AnyMessage);
  const rateLimits = hcm.route_config.virtual_hosts[0].routes[0].route.rate_limits as Loose[];
  const rls = buildRateLimitServiceConfig(push.index.rateLimits);
  assert.equal(rls.domains.length, 1);
  const filter = unpackAny<Loose>(hcm.http_filters.at(-2).typed_config as AnyMessage);
  assert.equal(filter.domain, rls.domains[0]?.domain, 'the filter asks about the domain the service has');
  return { rateLimits, domain: rls.domains[0]?.descriptors ?? [] };
}

const limitsHit = (req: Request) => {
  const { rateLimits, domain } = setup();
  return descriptorsOf(rateLimits, req).map((entries) => {
    const node = lookup(domain, entries);
    assert.ok(node, `no config node for ${JSON.stringify(entries)}`);
    return { entries, rate_limit: node.rate_limit };
  });
};

test('round trip: a request matching two limits yields two descriptors, each landing on the node of its limit', () => {
  const hits = limitsHit({
    path: '/Page.Show?trace=1',
    method: 'GET',
    headers: { 'x-user-id': 'u-42', 'x-tier': 'free' },
    remoteAddress: '10.1.2.3',
  });
  assert.deepEqual(
    hits.map((h) => [h.entries, h.rate_limit]),
    [
      [
        [
          { key: 'generic_key', value: 'shop.page.show' },
          { key: 'header_match', value: 'matched' },
        ],
        { unit: 'second', requests_per_unit: 800, algorithm: 'token_bucket' },
      ],
      [
        [
          { key: 'generic_key', value: 'shop.page.per-user' },
          { key: 'x-user-id', value: 'u-42' },
        ],
        { unit: 'minute', requests_per_unit: 10, algorithm: 'token_bucket', burst: 15 },
      ],
    ],
  );
});

test('round trip: the regex path, header and source IP limit', () => {
  const hits = limitsHit({
    path: '/api/v2/items',
    method: 'POST',
    headers: { 'x-tier': 'free' },
    remoteAddress: '10.9.9.9',
  });
  assert.deepEqual(
    hits.map((h) => h.entries),
    [
      [
        { key: 'generic_key', value: 'shop.page.free-ip' },
        { key: 'header_match', value: 'matched' },
        { key: 'remote_address', value: '10.9.9.9' },
      ],
    ],
  );
  assert.deepEqual(hits[0]?.rate_limit, { unit: 'hour', requests_per_unit: 5, algorithm: 'token_bucket' });
});

test('round trip: requests outside every condition produce no descriptor (nothing is counted)', () => {
  assert.deepEqual(
    limitsHit({ path: '/Page.Show', method: 'POST', headers: {}, remoteAddress: '10.0.0.1' }),
    [],
  );
  assert.deepEqual(
    limitsHit({ path: '/Page.ShowMore', method: 'GET', headers: {}, remoteAddress: '10.0.0.1' }),
    [],
  );
  assert.deepEqual(
    limitsHit({
      path: '/api/v2/items',
      method: 'GET',
      headers: { 'x-tier': 'paid' },
      remoteAddress: '10.0.0.1',
    }),
    [],
  );
});
