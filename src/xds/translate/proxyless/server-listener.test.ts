import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpFilter } from '../../../protocol/envoy-types.js';
import { uniqueFilterNames } from './server-listener.js';

test('filter names are made unique without taking a name already used', () => {
  const f = (name: string): HttpFilter => ({ name });
  const names = (fs: HttpFilter[]) => uniqueFilterNames(fs).map((x) => x.name);
  assert.deepEqual(names([]), []);
  assert.deepEqual(names([f('a'), f('b')]), ['a', 'b']);
  assert.deepEqual(names([f('a'), f('a'), f('a')]), ['a', 'a.2', 'a.3']);
  assert.deepEqual(names([f('a'), f('a'), f('a.2')]), ['a', 'a.3', 'a.2']);
  const out = names([f('rbac'), f('rbac'), f('rbac.2'), f('rbac.3')]);
  assert.equal(new Set(out).size, out.length, out.join(','));
});
