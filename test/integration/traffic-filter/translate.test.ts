/**
 * What the proxies get from filtered frames: the served config (after the control plane's
 * derivations) through the real translation, for the features that are not plain route fields:
 * a rateLimit filter's token bucket on the serving workload's inbound route, and a subset's
 * outlier detection on that subset's cluster only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../../src/api/resource.js';
import { deriveSnapshot } from '../../../src/controllers/derivation.js';
import { defaultDerivations } from '../../../src/controllers/derivations.js';
import { RESOURCE_TYPES, SHORT_TYPE, unpackAny, type AnyMessage } from '../../../src/protocol/protos.js';
import { buildPushContext, generate } from '../../../src/xds/translate/index.js';
import {
  checkEncodes,
  config,
  endpoint,
  http,
  proxy,
  registry,
  res,
  service,
  type Loose,
} from '../../../src/xds/translate/testkit.js';

const PAGE = 'page.shop.svc.cluster.local';
const SERVICES = [service(PAGE, [http(80)])];
const ENDPOINTS = [endpoint(PAGE, '10.0.0.5', { labels: { app: 'page', version: 'v2' } })];

const filter = (name: string, priority: number, feature: object, target: object = {}): Resource => ({
  ...res('TrafficFilter', 'shop', name, {
    target: { host: 'page', ...target },
    owner: 'platform',
    priority,
    ...feature,
  }),
  apiVersion: 'trellis.io/v1alpha1',
});

function generated(resources: Resource[], node: Parameters<typeof proxy>[0]) {
  const served = deriveSnapshot(config(resources), defaultDerivations());
  assert.deepEqual(served.failures, []);
  const push = buildPushContext(served.snapshot, registry(SERVICES, ENDPOINTS));
  const out: Record<string, Map<string, Loose>> = {};
  for (const type of RESOURCE_TYPES) {
    const r = generate(push, proxy(node), type);
    checkEncodes(type, r);
    out[SHORT_TYPE[type]] = r as Map<string, Loose>;
  }
  return out as Record<'LDS' | 'CDS', Map<string, Loose>>;
}

const unpack = (any: unknown): Loose => unpackAny<Loose>(any as AnyMessage);

test('rateLimit filters: the winning bucket on the serving workload`s inbound virtual host', () => {
  const { LDS } = generated(
    [
      filter('base', 0, { rateLimit: { tokensPerFill: 100, fillInterval: '1s' } }),
      filter('tight', 7, { rateLimit: { tokensPerFill: 5, fillInterval: '1m', maxTokens: 8 } }),
    ],
    { ipAddresses: ['10.0.0.5'], namespace: 'shop', labels: { app: 'page' } },
  );
  const hcm = unpack(LDS.get('inbound|80||').filter_chains[0].filters[0].typed_config);
  const vh = hcm.route_config.virtual_hosts[0];
  const bucket = unpack(vh.typed_per_filter_config['envoy.filters.http.local_ratelimit']);
  assert.equal(bucket.stat_prefix, `shop.traffic-filter.${PAGE}.traffic-filter`);
  assert.equal(bucket.token_bucket.max_tokens, 8);
  assert.equal(bucket.token_bucket.tokens_per_fill.value, 5);
  assert.equal(Number(bucket.token_bucket.fill_interval.seconds), 60);
});

test('a subset`s outlier detection reaches that subset`s cluster only', () => {
  const dr = res('DestinationRule', 'shop', 'page', {
    host: 'page',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  const { CDS } = generated(
    [
      dr,
      filter('od', 0, { outlierDetection: { consecutive5xxErrors: 2, interval: '3s' } }, { subset: 'v2' }),
    ],
    { ipAddresses: ['10.0.0.9'], namespace: 'shop', labels: { app: 'web' } },
  );
  const v2 = CDS.get(`outbound|80|v2|${PAGE}`);
  const v1 = CDS.get(`outbound|80|v1|${PAGE}`);
  assert.equal(v2.outlier_detection.consecutive_5xx.value, 2);
  assert.equal(Number(v2.outlier_detection.interval.seconds), 3);
  assert.equal(v1.outlier_detection, undefined);
});
