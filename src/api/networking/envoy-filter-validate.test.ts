/**
 * EnvoyFilter validation, from Istio's own cases (pkg/config/validation/envoyfilter
 * envoyfilter_test.go): errors where Istio rejects, warnings where Istio warns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';
import { lookupKind } from '../kinds.js';

function problems(spec: unknown): { errors: string[]; warnings: string[] } {
  const all = validateResource({
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'ef', namespace: 'default' },
    spec,
  });
  return {
    errors: all.filter((p) => p.severity === 'error').map(formatProblem),
    // Istio's warning on every EnvoyFilter is left out of the tables.
    warnings: all
      .filter((p) => p.severity === 'warning' && !p.message.includes('internal implementation details'))
      .map(formatProblem),
  };
}

const HCM = 'envoy.filters.network.http_connection_manager';
const patch = (applyTo: string, match: unknown, operation = 'MERGE', value: unknown = { name: 'x' }) => ({
  configPatches: [{ applyTo, ...(match === undefined ? {} : { match }), patch: { operation, value } }],
});

test('EnvoyFilter is read in networking.istio.io/v1alpha3 only, as Istio serves it', () => {
  assert.equal(lookupKind('networking.istio.io/v1alpha3', 'EnvoyFilter').ok, true);
  const v1 = lookupKind('networking.istio.io/v1', 'EnvoyFilter');
  assert.equal(v1.ok, false);
  assert.match(v1.ok ? '' : v1.message, /expected one of networking\.istio\.io\/v1alpha3/);
});

test("every EnvoyFilter carries Istio's warning about internal details", () => {
  const all = validateResource({
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'ef', namespace: 'default' },
    spec: {},
  });
  assert.deepEqual(
    all.map((p) => p.severity),
    ['warning'],
  );
  assert.match(all[0]?.message ?? '', /internal implementation details/);
});

const CASES: { name: string; spec: unknown; error?: RegExp; warning?: RegExp }[] = [
  { name: 'empty filter', spec: {} },
  {
    name: 'workload selector without labels',
    spec: { workloadSelector: {} },
    warning: /spec\.workloadSelector: no labels: the filter applies to every workload in its namespace/,
  },
  {
    name: 'missing applyTo',
    spec: { configPatches: [{ patch: { operation: 'ADD', value: {} } }] },
    error: /spec\.configPatches\[0\]\.applyTo: missing applyTo/,
  },
  {
    name: 'unknown applyTo',
    spec: { configPatches: [{ applyTo: 'LISTENERS', patch: { operation: 'ADD', value: {} } }] },
    error: /applyTo: expected one of LISTENER, .*got "LISTENERS"/,
  },
  {
    name: 'missing patch',
    spec: { configPatches: [{ applyTo: 'LISTENER' }] },
    error: /spec\.configPatches\[0\]\.patch: missing patch/,
  },
  {
    name: 'missing operation',
    spec: { configPatches: [{ applyTo: 'LISTENER', patch: { value: {} } }] },
    error: /patch\.operation: missing patch operation/,
  },
  {
    name: 'missing value for a non-REMOVE operation',
    spec: { configPatches: [{ applyTo: 'LISTENER', patch: { operation: 'ADD' } }] },
    error: /patch\.value: missing patch value for ADD; only REMOVE takes none/,
  },
  {
    name: 'REMOVE without a value',
    spec: { configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'REMOVE' } }] },
  },
  {
    name: 'a null patch',
    spec: { configPatches: [null] },
    error: /configPatches\[0\]: null config patch/,
  },
  {
    name: 'invalid proxy version regex',
    spec: patch('CLUSTER', { proxy: { proxyVersion: '1.2.+++' } }),
    error: /match\.proxy\.proxyVersion: invalid RE2 regex/,
  },
  { name: 'valid proxy version regex', spec: patch('CLUSTER', { proxy: { proxyVersion: '^1\\.2.*' } }) },
  {
    name: 'proxy version longer than 1024 characters',
    spec: patch('CLUSTER', { proxy: { proxyVersion: 'a'.repeat(1025) } }),
    warning: /longer than 1024 characters: the version match is ignored/,
  },
  {
    name: 'listener class with a cluster match',
    spec: patch('LISTENER', { cluster: { service: 'a' } }),
    error: /applyTo for listener class objects cannot have non listener match/,
  },
  {
    name: 'filter match without a name',
    spec: patch('NETWORK_FILTER', { listener: { filterChain: { filter: {} } } }),
    error: /filter\.name: filter match has no name to match on/,
  },
  {
    name: 'sub filter match with applyTo other than HTTP_FILTER',
    spec: patch('NETWORK_FILTER', {
      listener: { filterChain: { filter: { name: HCM, subFilter: { name: 'a' } } } },
    }),
    error: /subfilter match can be used with applyTo HTTP_FILTER only/,
  },
  {
    name: 'sub filter match under another network filter',
    spec: patch('HTTP_FILTER', {
      listener: {
        filterChain: { filter: { name: 'envoy.filters.network.tcp_proxy', subFilter: { name: 'a' } } },
      },
    }),
    error: /subfilter match requires filter match with envoy\.filters\.network\.http_connection_manager/,
  },
  {
    name: 'sub filter match without a name',
    spec: patch('HTTP_FILTER', { listener: { filterChain: { filter: { name: HCM, subFilter: {} } } } }),
    error: /subFilter\.name: subfilter match has no name to match on/,
  },
  {
    name: 'route class with a listener match',
    spec: patch('HTTP_ROUTE', { listener: { portNumber: 80 } }),
    error: /applyTo for http route class objects cannot have non route configuration match/,
  },
  {
    name: 'cluster with a listener match',
    spec: patch('CLUSTER', { listener: { portNumber: 80 } }),
    error: /applyTo for cluster class objects cannot have non cluster match/,
  },
  {
    name: 'filter match with applyTo LISTENER',
    spec: patch('LISTENER', { listener: { filterChain: { filter: { name: HCM } } } }),
    warning: /filter match has no effect when used with LISTENER/,
  },
  {
    name: 'a deprecated filter name',
    spec: patch('NETWORK_FILTER', {
      listener: { filterChain: { filter: { name: 'envoy.http_connection_manager' } } },
    }),
    warning:
      /using deprecated filter name "envoy\.http_connection_manager"; use "envoy\.filters\.network\.http_connection_manager"/,
  },
  {
    name: 'an operation Istio ignores for its applyTo',
    spec: patch('CLUSTER', undefined, 'INSERT_BEFORE'),
    warning: /INSERT_BEFORE does nothing for CLUSTER \(Istio ignores it\); use one of ADD, REMOVE, MERGE/,
  },
  {
    name: 'EXTENSION_CONFIG (no ECDS in Trellis)',
    spec: patch('EXTENSION_CONFIG', undefined, 'ADD'),
    warning: /EXTENSION_CONFIG patches are not applied: Trellis serves no extension config discovery/,
  },
  {
    name: 'both workloadSelector and targetRefs',
    spec: {
      workloadSelector: { labels: { app: 'a' } },
      targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' }],
    },
    error: /only one of targetRefs or workloadSelector can be set/,
  },
  {
    name: 'a targetRef to another namespace',
    spec: {
      targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw', namespace: 'other' }],
    },
    error: /targetRefs\[0\]\.namespace: cross-namespace references are not allowed/,
  },
  {
    name: 'a targetRef to a Service (waypoints only)',
    spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }] },
    warning: /Service: Trellis attaches EnvoyFilters only to Gateways/,
  },
  {
    name: 'unknown match context',
    spec: patch('CLUSTER', { context: 'SIDECAR' }),
    error:
      /match\.context: expected one of ANY, SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, WAYPOINT, got "SIDECAR"/,
  },
  {
    name: 'a value that is not an object',
    spec: { configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: 'x' } }] },
    error: /patch\.value: expected an object \(the Envoy message, as JSON\)/,
  },
  {
    name: 'an unknown field in a match',
    spec: patch('CLUSTER', { cluster: { host: 'a' } }),
    error: /match\.cluster\.host: unknown field; allowed: portNumber, service, subset, name/,
  },
  {
    name: 'a WAYPOINT patch (Istio ambient) is accepted and not applied',
    spec: {
      configPatches: [
        {
          applyTo: 'HTTP_FILTER',
          match: {
            context: 'WAYPOINT',
            waypoint: { filter: { name: HCM, subFilter: { name: 'envoy.filters.http.router' } } },
          },
          patch: { operation: 'REMOVE' },
        },
      ],
    },
    warning: /match\.context: WAYPOINT patches apply at ambient waypoints, which Trellis does not run/,
  },
  {
    name: 'a waypoint match with another context',
    spec: patch('HTTP_FILTER', { context: 'SIDECAR_INBOUND', waypoint: {} }, 'REMOVE'),
    error: /only support waypointMatch when context is WAYPOINT/,
  },
  {
    name: 'WAYPOINT with a listener match',
    spec: patch('HTTP_FILTER', { context: 'WAYPOINT', listener: { portNumber: 80 } }, 'REMOVE'),
    error: /only support waypointMatch when context is WAYPOINT/,
  },
  {
    name: 'a waypoint port out of range',
    spec: patch('HTTP_FILTER', { context: 'WAYPOINT', waypoint: { portNumber: 65536 } }, 'REMOVE'),
    error: /match\.waypoint\.portNumber: 65536 is out of range/,
  },
  {
    name: 'MERGE_AND_REPLACE_LIST where Istio has it',
    spec: patch('CLUSTER', undefined, 'MERGE_AND_REPLACE_LIST'),
  },
  {
    name: 'MERGE_AND_REPLACE_LIST on a network filter (Istio ignores it)',
    spec: patch(
      'NETWORK_FILTER',
      { listener: { filterChain: { transportProtocol: 'tls' } } },
      'MERGE_AND_REPLACE_LIST',
    ),
    warning: /MERGE_AND_REPLACE_LIST does nothing for NETWORK_FILTER/,
  },
  {
    name: "the issue's local rate limit filter",
    spec: {
      workloadSelector: { labels: { app: 'sm-verify-page', branch: 'master' } },
      configPatches: [
        {
          applyTo: 'HTTP_ROUTE',
          match: { context: 'SIDECAR_INBOUND', routeConfiguration: { vhost: { route: {} } } },
          patch: { operation: 'MERGE', value: { typed_per_filter_config: {} } },
        },
      ],
    },
  },
];

for (const c of CASES) {
  test(`EnvoyFilter validation: ${c.name}`, () => {
    const { errors, warnings } = problems(c.spec);
    if (c.error)
      assert.ok(
        errors.some((e) => c.error?.test(e)),
        errors.join('\n') || 'no errors',
      );
    else assert.deepEqual(errors, []);
    if (c.warning)
      assert.ok(
        warnings.some((w) => c.warning?.test(w)),
        warnings.join('\n') || 'no warnings',
      );
    else if (!c.error) assert.deepEqual(warnings, []);
  });
}
