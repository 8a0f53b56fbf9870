/** trellis analyze's EnvoyFilter findings: undecodable patches, and per-route configs of filters nobody adds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envoyFilter, LOCAL_LIMIT_ROUTE_VALUE } from '../translate/envoy-filter/testing.js';
import { envoyFilterFindings } from './envoy-filter.js';

const ROUTE_LIMIT = envoyFilter('sm-verify', 'route-limit', {
  configPatches: [{ applyTo: 'HTTP_ROUTE', patch: { operation: 'MERGE', value: LOCAL_LIMIT_ROUTE_VALUE } }],
});
const filterPatch = (operation: 'INSERT_BEFORE' | 'REMOVE', name = 'envoy.filters.http.local_ratelimit') =>
  envoyFilter('istio-system', `filter-${operation}`, {
    configPatches: [
      {
        applyTo: 'HTTP_FILTER',
        patch: {
          operation,
          ...(operation === 'REMOVE'
            ? {}
            : {
                value: {
                  name,
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
                    stat_prefix: 'x',
                  },
                },
              }),
        },
      },
    ],
  });

test('a per-route local rate limit without the filter in the chain is a warning naming the fix', () => {
  const alone = envoyFilterFindings([ROUTE_LIMIT]);
  assert.deepEqual(
    alone.map((f) => [f.level, f.path]),
    [
      [
        'Warning',
        'spec.configPatches[0].patch.value.typed_per_filter_config.envoy.filters.http.local_ratelimit',
      ],
    ],
  );
  assert.match(
    alone[0]?.message ?? '',
    /add an HTTP_FILTER patch \(INSERT_BEFORE envoy\.filters\.http\.router\)/,
  );
  assert.deepEqual(envoyFilterFindings([ROUTE_LIMIT, filterPatch('INSERT_BEFORE')]), []);
  // A REMOVE does not put it in the chain; another name does not either.
  assert.equal(envoyFilterFindings([ROUTE_LIMIT, filterPatch('REMOVE')]).length, 1);
  assert.equal(envoyFilterFindings([ROUTE_LIMIT, filterPatch('INSERT_BEFORE', 'other')]).length, 1);
});

test('per-route configs of filters Trellis generates need no patch', () => {
  const fault = envoyFilter('default', 'fault', {
    configPatches: [
      {
        applyTo: 'VIRTUAL_HOST',
        patch: {
          operation: 'MERGE',
          value: {
            typed_per_filter_config: {
              'envoy.filters.http.fault': {
                '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
              },
            },
          },
        },
      },
    ],
  });
  assert.deepEqual(envoyFilterFindings([fault]), []);
});

test('an undecodable patch is an error at its path', () => {
  const bad = envoyFilter('default', 'bad', {
    configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: { conect_timeout: '1s' } } }],
  });
  assert.deepEqual(
    envoyFilterFindings([bad]).map((f) => [f.level, f.path]),
    [['Error', 'spec.configPatches[0].patch.value.conect_timeout']],
  );
});
