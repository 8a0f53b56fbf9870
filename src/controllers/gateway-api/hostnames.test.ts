import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveHostnames, intersectHostname, wildcardMatches } from './hostnames.js';

test('wildcards match one or more labels, never the bare suffix', () => {
  const rows: [string, string, boolean][] = [
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'aexample.com', false],
    ['a.example.com', 'a.example.com', true],
    ['a.example.com', 'b.example.com', false],
  ];
  for (const [p, h, want] of rows) assert.equal(wildcardMatches(p, h), want, `${p} ~ ${h}`);
});

test('route and listener hostnames intersect as the Gateway API defines', () => {
  const rows: [string, string | undefined, string | undefined][] = [
    ['a.example.com', undefined, 'a.example.com'],
    ['a.example.com', '', 'a.example.com'],
    ['a.example.com', '*', 'a.example.com'],
    ['a.example.com', 'a.example.com', 'a.example.com'],
    ['a.example.com', 'b.example.com', undefined],
    ['a.example.com', '*.example.com', 'a.example.com'],
    ['*.example.com', 'a.example.com', 'a.example.com'],
    ['*.example.com', '*.example.com', '*.example.com'],
    ['*.a.example.com', '*.example.com', '*.a.example.com'],
    ['*.example.com', '*.a.example.com', '*.a.example.com'],
    ['*.example.com', '*.example.org', undefined],
    ['example.com', '*.example.com', undefined],
  ];
  for (const [route, listener, want] of rows)
    assert.equal(intersectHostname(route, listener), want, `${route} / ${listener}`);
});

test("a route without hostnames takes the listener's, or every host", () => {
  assert.deepEqual(effectiveHostnames(undefined, 'a.example.com'), ['a.example.com']);
  assert.deepEqual(effectiveHostnames([], undefined), ['*']);
  assert.deepEqual(effectiveHostnames(['x.org', 'a.example.com', 'a.example.com'], '*.example.com'), [
    'a.example.com',
  ]);
  assert.deepEqual(effectiveHostnames(['x.org'], '*.example.com'), []);
});
