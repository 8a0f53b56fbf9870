/**
 * The dynamic forward proxy's config as the proxy receives it: what it honours is accepted
 * (with Envoy's defaults), what it does not is NACKed naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packAny, TYPE } from '../../protocol/protos.js';
import { XdsResourceCache } from '../xds-client/resource-cache.js';

function respond(typeUrl: string, resources: object[]) {
  const cache = new XdsResourceCache(() => 0);
  const outcome = cache.handleResponse({
    version_info: '1',
    type_url: typeUrl,
    nonce: '1',
    resources: resources.map((r) => packAny(typeUrl, r)),
  });
  return { cache, problems: outcome.kind === 'nack' ? outcome.problems : [] };
}

function dfpCluster(cache: object, extra: object = {}): object {
  return {
    name: 'dfp',
    cluster_type: {
      name: 'envoy.clusters.dynamic_forward_proxy',
      typed_config: packAny(TYPE.dynamicForwardProxyCluster, { dns_cache_config: cache }),
    },
    lb_policy: 'CLUSTER_PROVIDED',
    ...extra,
  };
}

test('a dynamic forward proxy cluster is accepted with its cache; unset fields take Envoy defaults', () => {
  const { cache, problems } = respond(TYPE.cluster, [dfpCluster({ name: 'c' })]);
  assert.deepEqual(problems, []);
  const c = cache.snapshot().clusters.get('dfp');
  assert.equal(c?.type, 'DYNAMIC_FORWARD_PROXY');
  assert.deepEqual(c?.dnsCache, {
    name: 'c',
    family: 'AUTO',
    refreshMs: 60_000,
    hostTtlMs: 300_000,
    maxHosts: 1024,
    maxPending: 1024,
    queryTimeoutMs: 5_000,
  });
  // (What the control plane generates is accepted: test/integration/egress runs it.)
});

test('dynamic forward proxy fields the proxy does not honour are NACKed with their path', () => {
  const rows: { cluster: object; want: RegExp }[] = [
    {
      cluster: dfpCluster({ name: 'c', preresolve_hostnames: [{ address: 'a.example', port_value: 80 }] }),
      want: /cluster_type\.typed_config\.dns_cache_config\.preresolve_hostnames: field is not supported/,
    },
    {
      cluster: dfpCluster({ name: 'c', dns_failure_refresh_rate: { base_interval: { seconds: 1 } } }),
      want: /dns_cache_config\.dns_failure_refresh_rate: field is not supported/,
    },
    { cluster: dfpCluster({}), want: /dns_cache_config\.name: must be non-empty/ },
    {
      cluster: dfpCluster({ name: 'c' }, { lb_policy: 'ROUND_ROBIN' }),
      want: /lb_policy: .*CLUSTER_PROVIDED/,
    },
    {
      cluster: { ...dfpCluster({ name: 'c' }), cluster_type: { name: 'envoy.clusters.redis' } },
      want: /cluster_type\.name: cluster type "envoy\.clusters\.redis" is not supported/,
    },
    {
      cluster: {
        name: 'dfp',
        lb_policy: 'CLUSTER_PROVIDED',
        cluster_type: {
          name: 'envoy.clusters.dynamic_forward_proxy',
          typed_config: packAny(TYPE.dynamicForwardProxyCluster, {
            sub_clusters_config: { max_sub_clusters: { value: 1 } },
          }),
        },
      },
      want: /sub_clusters_config: field is not supported/,
    },
  ];
  for (const row of rows) {
    const { problems } = respond(TYPE.cluster, [row.cluster]);
    assert.ok(
      problems.some((p) => row.want.test(p)),
      `${row.want}: ${problems.join('; ')}`,
    );
  }
});

test('the HTTP filter is accepted with its cache; sub-clusters are NACKed', () => {
  const listener = (filter: object) => ({
    name: '0.0.0.0_80',
    address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: packAny(TYPE.hcm, {
              stat_prefix: 'x',
              route_config: { name: 'r', virtual_hosts: [] },
              http_filters: [
                filter,
                { name: 'envoy.filters.http.router', typed_config: packAny(TYPE.router, {}) },
              ],
            }),
          },
        ],
      },
    ],
  });
  const good = {
    name: 'envoy.filters.http.dynamic_forward_proxy',
    typed_config: packAny(TYPE.dynamicForwardProxy, {
      dns_cache_config: { name: 'c', max_hosts: { value: 8 } },
    }),
  };
  assert.deepEqual(respond(TYPE.listener, [listener(good)]).problems, []);
  const bad = {
    name: 'envoy.filters.http.dynamic_forward_proxy',
    typed_config: packAny(TYPE.dynamicForwardProxy, {
      sub_cluster_config: { cluster_init_timeout: { seconds: 1 } },
    }),
  };
  const { problems } = respond(TYPE.listener, [listener(bad)]);
  assert.ok(
    problems.some((p) => /typed_config\.sub_cluster_config: field is not supported/.test(p)),
    problems.join('; '),
  );
});
