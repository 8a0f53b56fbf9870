/**
 * allowedRoutes `from: Selector`: Kubernetes label selector semantics over namespace labels
 * (a Namespace document's, plus kubernetes.io/metadata.name on every namespace), and which
 * routes a selecting listener admits (bypass attempts: labels on the route, on another namespace,
 * or a look-alike name do not admit it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector } from '../../api/gateway/types.js';
import { selectorMatches } from './namespaces.js';
import { derive, routeConditions, virtualServices } from './testing.js';

test('label selectors: matchLabels and every operator, as Kubernetes evaluates them', () => {
  const labels = { team: 'shop', tier: 'web' };
  const rows: [LabelSelector, boolean][] = [
    [{}, true],
    [{ matchLabels: {} }, true],
    [{ matchLabels: { team: 'shop' } }, true],
    [{ matchLabels: { team: 'shop', tier: 'web' } }, true],
    [{ matchLabels: { team: 'shop', tier: 'db' } }, false],
    [{ matchLabels: { owner: 'shop' } }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'shop'] }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, false],
    [{ matchExpressions: [{ key: 'owner', operator: 'In', values: ['shop'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['shop'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'owner', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'owner', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'owner', operator: 'DoesNotExist' }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [
      {
        matchLabels: { team: 'shop' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }],
      },
      false,
    ],
  ];
  for (const [selector, want] of rows)
    assert.equal(selectorMatches(selector, labels), want, JSON.stringify(selector));
});

const gateway = (selector: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Selector, selector: ${selector} } } }
`;
const namespace = (name: string, labels: string) => `---
apiVersion: v1
kind: Namespace
metadata: { name: ${name}, labels: ${labels} }
`;
const route = (ns: string, labels = '{}') => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: ${ns}, labels: ${labels} }
spec:
  parentRefs: [{ name: web, namespace: infra }]
  rules: [{ backendRefs: [{ name: a, port: 80 }] }]
`;

test('a selecting listener admits routes from namespaces whose labels match, and only those', () => {
  const rows: [string, string, string][] = [
    [
      'a labelled Namespace document',
      gateway('{ matchLabels: { gateway: shared } }') +
        namespace('shop', '{ gateway: shared }') +
        route('shop'),
      'True/Accepted',
    ],
    [
      'by name, with no Namespace document',
      gateway('{ matchLabels: { kubernetes.io/metadata.name: shop } }') + route('shop'),
      'True/Accepted',
    ],
    [
      'matchExpressions over names',
      gateway(
        '{ matchExpressions: [{ key: kubernetes.io/metadata.name, operator: In, values: [shop, cart] }] }',
      ) + route('cart'),
      'True/Accepted',
    ],
    [
      'a namespace without the label',
      gateway('{ matchLabels: { gateway: shared } }') + namespace('shop', '{ team: shop }') + route('shop'),
      'False/NotAllowedByListeners',
    ],
    [
      'no Namespace document at all',
      gateway('{ matchLabels: { gateway: shared } }') + route('shop'),
      'False/NotAllowedByListeners',
    ],
    // Bypass attempts: the label on the route itself, on another namespace, a look-alike name.
    [
      'the label on the route, not its namespace',
      gateway('{ matchLabels: { gateway: shared } }') + route('shop', '{ gateway: shared }'),
      'False/NotAllowedByListeners',
    ],
    [
      'another namespace labelled',
      gateway('{ matchLabels: { gateway: shared } }') +
        namespace('cart', '{ gateway: shared }') +
        route('shop'),
      'False/NotAllowedByListeners',
    ],
    [
      'a look-alike name',
      gateway('{ matchLabels: { kubernetes.io/metadata.name: shop } }') + route('shop2'),
      'False/NotAllowedByListeners',
    ],
    [
      'a Namespace document cannot relabel its own name',
      gateway('{ matchLabels: { kubernetes.io/metadata.name: shop } }') +
        namespace('evil', '{ kubernetes.io/metadata.name: shop }') +
        route('evil'),
      'False/NotAllowedByListeners',
    ],
  ];
  for (const [what, yaml, want] of rows) {
    const out = derive(yaml);
    assert.equal(routeConditions(out, 'HTTPRoute', 'r').Accepted, want, what);
    assert.equal(virtualServices(out).length, want.startsWith('True') ? 1 : 0, what);
  }
});
