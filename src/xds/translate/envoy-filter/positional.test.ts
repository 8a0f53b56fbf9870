/** The list operations of EnvoyFilter patches, as Istio performs them on filters and routes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PatchOperation } from '../../../api/networking/envoy-filter.js';
import { applyListPatch } from './positional.js';

const LIST = ['a', 'b', 'c', 'b'];

test('list operations with and without an element match', () => {
  const cases: [PatchOperation, string | undefined, boolean, string[]][] = [
    // operation, element matched (undefined: the patch names none), firstNeedsMatch, result
    ['ADD', undefined, false, ['a', 'b', 'c', 'b', 'x']],
    ['ADD', 'b', false, ['a', 'b', 'c', 'b', 'x']],
    ['INSERT_FIRST', undefined, false, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_FIRST', 'zz', false, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_FIRST', 'zz', true, ['a', 'b', 'c', 'b']],
    ['INSERT_FIRST', 'c', true, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_FIRST', 'a', true, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_BEFORE', 'b', false, ['a', 'x', 'b', 'c', 'b']],
    ['INSERT_BEFORE', 'a', false, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_BEFORE', 'zz', false, ['a', 'b', 'c', 'b']],
    ['INSERT_BEFORE', undefined, false, ['x', 'a', 'b', 'c', 'b']],
    ['INSERT_AFTER', 'b', false, ['a', 'b', 'x', 'c', 'b']],
    ['INSERT_AFTER', 'c', false, ['a', 'b', 'c', 'x', 'b']],
    ['INSERT_AFTER', 'a', false, ['a', 'x', 'b', 'c', 'b']],
    ['INSERT_AFTER', 'zz', false, ['a', 'b', 'c', 'b']],
    ['INSERT_AFTER', undefined, false, ['a', 'b', 'c', 'b', 'x']],
    ['REPLACE', 'b', false, ['a', 'x', 'c', 'b']],
    ['REPLACE', 'a', false, ['x', 'b', 'c', 'b']],
    ['REPLACE', 'zz', false, ['a', 'b', 'c', 'b']],
    ['REPLACE', undefined, false, ['a', 'b', 'c', 'b']],
    ['REMOVE', 'b', false, ['a', 'c']],
    ['REMOVE', 'zz', false, ['a', 'b', 'c', 'b']],
    ['REMOVE', undefined, false, ['a', 'b', 'c', 'b']],
    ['MERGE', 'b', false, ['a', 'b', 'c', 'b']],
  ];
  for (const [operation, element, firstNeedsMatch, want] of cases) {
    const got = applyListPatch(LIST, {
      operation,
      value: 'x',
      hasMatch: element !== undefined,
      matches: (e) => e === element,
      firstNeedsMatch,
    });
    assert.deepEqual(
      got,
      want,
      `${operation} ${element ?? '(no match)'}${firstNeedsMatch ? ' (routes)' : ''}`,
    );
    assert.notEqual(got, LIST, 'a new list');
  }
  assert.deepEqual(LIST, ['a', 'b', 'c', 'b'], 'the input is unchanged');
});
