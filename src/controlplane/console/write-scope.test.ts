import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../api/resource.js';
import { outOfConsoleScope } from './write-scope.js';

const res = (kind: string, spec: object): Resource =>
  ({
    apiVersion: 'networking.istio.io/v1',
    kind,
    metadata: { name: 'r', namespace: 'default' },
    spec,
  });

test('the console writes traffic settings, not gateway bindings or client TLS', () => {
  const rows: [Resource, string | undefined][] = [
    [
      res('VirtualService', {
        hosts: ['reviews'],
        http: [{ route: [{ destination: { host: 'reviews' } }] }],
      }),
      undefined,
    ],
    [res('VirtualService', { hosts: ['reviews'], gateways: ['mesh'] }), undefined],
    [
      res('VirtualService', { hosts: ['reviews'], gateways: ['mesh', 'istio-system/ingress'] }),
      'spec.gateways[1]',
    ],
    [res('VirtualService', { hosts: ['reviews'], http: [{ match: [{ gateways: ['mesh'] }] }] }), undefined],
    [
      res('VirtualService', { hosts: ['reviews'], http: [{}, { match: [{}, { gateways: ['gw'] }] }] }),
      'spec.http[1].match[1].gateways',
    ],
    [
      res('DestinationRule', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
      undefined,
    ],
    [
      res('DestinationRule', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } }),
      'spec.trafficPolicy.tls',
    ],
    [
      res('DestinationRule', {
        host: 'reviews',
        trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'DISABLE' } }] },
      }),
      'spec.trafficPolicy.portLevelSettings[0].tls',
    ],
    [
      res('DestinationRule', {
        host: 'reviews',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', trafficPolicy: { tls: { mode: 'SIMPLE' } } },
        ],
      }),
      'spec.subsets[1].trafficPolicy.tls',
    ],
    [res('TrafficFilter', { host: 'reviews', timeout: '2s' }), undefined],
  ];
  for (const [r, want] of rows) assert.equal(outOfConsoleScope(r)?.path, want, JSON.stringify(r.spec));
});
