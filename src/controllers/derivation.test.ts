import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../api/resource.js';
import { FrozenSnapshot } from '../config/snapshot.js';
import { deriveSnapshot, type ConfigDerivation } from './derivation.js';

const se = (name: string, host: string): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: 'shop' },
  spec: { hosts: [host], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC' },
});

test('derivations run in order over the snapshot, each seeing the previous output', () => {
  const input = new FrozenSnapshot(7, [se('a', 'a.shop'), se('b', 'b.shop')]);
  const seen: string[][] = [];
  const steps: ConfigDerivation[] = [
    { name: 'add', derive: () => ({ put: [se('c', 'c.shop')] }) },
    { name: 'replace', derive: () => ({ put: [se('a', 'a2.shop')], remove: ['ServiceEntry/shop/b'] }) },
    {
      name: 'observe',
      derive: (s) => {
        seen.push(s.list('ServiceEntry').map((r) => (r.spec as { hosts: string[] }).hosts[0]!));
        return { problems: [{ source: { kind: 'ServiceEntry', namespace: 'shop', name: 'c' }, problems: [] }] };
      },
    },
  ];
  const out = deriveSnapshot(input, steps);
  assert.deepEqual(seen, [['a2.shop', 'c.shop']]);
  assert.equal(out.snapshot.revision, 7);
  assert.equal(out.snapshot.get('ServiceEntry', 'shop', 'b'), undefined);
  assert.deepEqual(out.problems.map((p) => [p.derivation, p.source.name]), [['observe', 'c']]);
  // The input is untouched: deleting what a step read removes what it produced.
  assert.deepEqual(input.list('ServiceEntry').map((r) => r.metadata.name), ['a', 'b']);
});

test('a derivation that throws is skipped and reported; the others still run', () => {
  const input = new FrozenSnapshot(1, [se('a', 'a.shop')]);
  const out = deriveSnapshot(input, [
    { name: 'broken', derive: () => { throw new Error('bug'); } },
    { name: 'add', derive: () => ({ put: [se('c', 'c.shop')] }) },
  ]);
  assert.deepEqual(out.failures.map((f) => f.derivation), ['broken']);
  assert.deepEqual(out.snapshot.list('ServiceEntry').map((r) => r.metadata.name), ['a', 'c']);
});

test('with no changes the input snapshot itself is served', () => {
  const input = new FrozenSnapshot(3, [se('a', 'a.shop')]);
  assert.equal(deriveSnapshot(input, [{ name: 'noop', derive: () => ({}) }]).snapshot, input);
});
