import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareMatches, type MatchRank } from './ordering.js';

const rank = (over: Partial<MatchRank>): MatchRank => ({
  pathType: 'PathPrefix',
  pathLength: 1,
  method: false,
  headers: 0,
  queryParams: 0,
  route: 'ns/r',
  rule: 0,
  match: 0,
  ...over,
});

test('each criterion of the Gateway API precedence decides before the next', () => {
  // [first, second]: `first` must sort before `second`, and the pair is otherwise tied.
  const rows: [string, Partial<MatchRank>, Partial<MatchRank>][] = [
    [
      'Exact before PathPrefix',
      { pathType: 'Exact', pathLength: 2 },
      { pathType: 'PathPrefix', pathLength: 20 },
    ],
    ['Exact before RegularExpression', { pathType: 'Exact' }, { pathType: 'RegularExpression' }],
    ['RegularExpression before PathPrefix', { pathType: 'RegularExpression' }, { pathType: 'PathPrefix' }],
    ['the longer path first', { pathLength: 5 }, { pathLength: 4 }],
    ['a method match first', { method: true, headers: 0 }, { method: false, headers: 5 }],
    ['more headers first', { headers: 2, queryParams: 0 }, { headers: 1, queryParams: 9 }],
    ['more query parameters first', { queryParams: 2 }, { queryParams: 1 }],
    [
      'the older route first',
      { created: '2024-01-01T00:00:00Z', route: 'z/z' },
      { created: '2024-06-01T00:00:00Z', route: 'a/a' },
    ],
    ['a dated route before an undated one', { created: '2024-01-01T00:00:00Z' }, { route: 'a/a' }],
    [
      'a dated route before an unreadable date',
      { created: '2024-01-01T00:00:00Z' },
      { created: 'yesterday', route: 'a/a' },
    ],
    [
      'an unreadable date ties with none: then names',
      { created: 'yesterday', route: 'a/a' },
      { route: 'b/b' },
    ],
    ['then namespace/name', { route: 'a/b' }, { route: 'b/a' }],
    ['then rule order', { rule: 0, match: 3 }, { rule: 1, match: 0 }],
    ['then match order', { match: 0 }, { match: 1 }],
  ];
  for (const [what, a, b] of rows) {
    assert.ok(compareMatches(rank(a), rank(b)) < 0, what);
    assert.ok(compareMatches(rank(b), rank(a)) > 0, `${what} (reversed)`);
  }
  assert.equal(compareMatches(rank({}), rank({})), 0);
});
