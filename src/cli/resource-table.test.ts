import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../api/resource.js';
import { renderResources } from './resource-table.js';
import { formatAge } from './table.js';

const NOW = Date.parse('2025-01-02T00:00:00Z');
const at = (agoMs: number) => new Date(NOW - agoMs).toISOString();

const vs = (name: string, namespace: string, ago: number, gateways?: string[]): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace, creationTimestamp: at(ago) },
  spec: { hosts: [name], ...(gateways ? { gateways } : {}) },
});

test('AGE reads like kubectl', () => {
  for (const [ms, age] of [
    [5_000, '5s'],
    [119_000, '119s'],
    [150_000, '2m30s'],
    [45 * 60_000, '45m'],
    [5 * 3600_000 + 60_000, '5h1m'],
    [30 * 3600_000, '30h'],
    [3 * 86400_000, '3d'],
    [20 * 86400_000, '20d'],
  ] as const)
    assert.equal(formatAge(NOW - ms, NOW), age, `${ms} ms`);
});

test('get tables: kubectl columns per kind, NAMESPACE with -A, SOURCE with -o wide', () => {
  const items = [vs('reviews', 'default', 30_000), vs('web', 'prod', 7200_000, ['public'])];
  assert.equal(
    renderResources('VirtualService', items, { allNamespaces: true, wide: false, nowMs: NOW }),
    [
      'NAMESPACE   NAME      GATEWAYS     HOSTS         AGE',
      'default     reviews                ["reviews"]   30s',
      'prod        web       ["public"]   ["web"]       120m',
      '',
    ].join('\n'),
  );
  const dr: Resource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'default', creationTimestamp: at(61_000) },
    spec: { host: 'reviews' },
  };
  assert.equal(
    renderResources('DestinationRule', [dr], {
      allNamespaces: false,
      wide: true,
      nowMs: NOW,
      sources: { 'default/reviews': '/etc/trellis/reviews.yaml' },
    }),
    'NAME      HOST      AGE   SOURCE\nreviews   reviews   61s   /etc/trellis/reviews.yaml\n',
  );
});

test("get secrets: kubectl's TYPE and DATA columns from a Secret as the API answers it (no spec)", () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'shop-cert', namespace: 'istio-system', creationTimestamp: at(60_000) },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y2VydA==', 'tls.key': '[redacted]' },
  } as unknown as Resource;
  assert.equal(
    renderResources('Secret', [secret], { allNamespaces: false, wide: false, nowMs: NOW }),
    ['NAME        TYPE                DATA   AGE', 'shop-cert   kubernetes.io/tls   2      60s', ''].join(
      '\n',
    ),
  );
});
