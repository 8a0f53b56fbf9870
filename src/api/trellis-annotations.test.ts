import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAndValidate } from './parse.js';
import {
  annotationValue,
  parseFallbackSubset,
  parseRetryBudget,
  parseStickyCanary,
} from './trellis-annotations.js';

test('annotationValue: the parsed value, undefined when absent or bad', () => {
  const key = 'trellis.io/fallback-subset';
  assert.equal(annotationValue({ [key]: 'v1' }, key, parseFallbackSubset), 'v1');
  assert.equal(annotationValue({ [key]: 'V1!' }, key, parseFallbackSubset), undefined);
  assert.equal(annotationValue({}, key, parseFallbackSubset), undefined);
  assert.equal(annotationValue(undefined, key, parseFallbackSubset), undefined);
});

test('sticky canary annotation values', () => {
  const rows: [string, unknown][] = [
    ['header:x-user-id', { header: 'x-user-id' }],
    ['header:X-User-Id', { header: 'x-user-id' }],
    ['header: x-user ', { header: 'x-user' }],
    ['xheader:user', /expected header:<name> or cookie:<name>/],
    ['header:a\nb', /expected header:<name> or cookie:<name>/],
    [' cookie:session ', { cookie: 'session' }],
    ['cookie:Session', { cookie: 'Session' }],
    ['header:', /name is empty/],
    ['cookie:  ', /name is empty/],
    ['header::authority', /not a valid header name/],
    ['header:x user', /not a valid header name/],
    ['cookie:a;b', /not a valid cookie name/],
    ['x-user-id', /expected header:<name> or cookie:<name>/],
    ['query:user', /expected header:<name> or cookie:<name>/],
    ['', /expected header/],
  ];
  for (const [text, want] of rows) {
    const got = parseStickyCanary(text);
    if (want instanceof RegExp) {
      assert.equal(got.ok, false, text);
      if (!got.ok) assert.match(got.message, want, text);
    } else assert.deepEqual(got, { ok: true, value: want }, text);
  }
});

test('fallback subset annotation values', () => {
  assert.deepEqual(parseFallbackSubset('v1'), { ok: true, value: 'v1' });
  assert.deepEqual(parseFallbackSubset(' stable '), { ok: true, value: 'stable' });
  for (const bad of ['', 'V1', 'v1.0', '-v1', 'a'.repeat(64)]) {
    const got = parseFallbackSubset(bad);
    assert.equal(got.ok, false, bad);
    if (!got.ok) assert.match(got.message, /DestinationRule subset/, bad);
  }
});

test('retry budget annotation values', () => {
  const rows: [string, unknown][] = [
    ['off', 'off'],
    [' off ', 'off'],
    ['{}', { budgetPercent: 20, minRetryConcurrency: 3 }],
    ['{"budgetPercent": 12.5}', { budgetPercent: 12.5, minRetryConcurrency: 3 }],
    ['{"minRetryConcurrency": 0}', { budgetPercent: 20, minRetryConcurrency: 0 }],
    ['{"budgetPercent": 0, "minRetryConcurrency": 1}', { budgetPercent: 0, minRetryConcurrency: 1 }],
    ['{"budgetPercent": 100}', { budgetPercent: 100, minRetryConcurrency: 3 }],
    ['on', /not JSON/],
    ['[]', /expected off or JSON/],
    ['20', /expected off or JSON/],
    ['{"budget": 20}', /unknown field "budget"/],
    ['{"budgetPercent": 101}', /budgetPercent must be a number from 0 to 100/],
    ['{"budgetPercent": -1}', /budgetPercent must be/],
    ['{"budgetPercent": "20"}', /budgetPercent must be/],
    ['{"minRetryConcurrency": 1.5}', /minRetryConcurrency must be a whole number/],
    ['{"minRetryConcurrency": -3}', /minRetryConcurrency must be a whole number/],
    ['{"minRetryConcurrency": 4294967295}', { budgetPercent: 20, minRetryConcurrency: 4294967295 }],
    ['{"minRetryConcurrency": 4294967296}', /minRetryConcurrency must be a whole number/],
  ];
  for (const [text, want] of rows) {
    const got = parseRetryBudget(text);
    if (want instanceof RegExp) {
      assert.equal(got.ok, false, text);
      if (!got.ok) assert.match(got.message, want, text);
    } else assert.deepEqual(got, { ok: true, value: want }, text);
  }
});

function problemsOf(kind: string, annotations: Record<string, string>) {
  const spec =
    kind === 'VirtualService'
      ? { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }
      : { host: 'reviews' };
  const yaml = JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind,
    metadata: { name: 'r', annotations },
    spec,
  });
  const [doc] = parseAndValidate(yaml, 'r.yaml');
  assert.ok(doc);
  return doc.problems;
}

test('a file with a bad annotation is rejected with the field path and what to write', () => {
  const sticky = problemsOf('VirtualService', { 'trellis.io/sticky-canary': 'user' });
  assert.deepEqual(
    sticky.map((p) => [p.severity, p.path]),
    [['error', 'metadata.annotations.trellis.io/sticky-canary']],
  );
  assert.match(sticky[0]!.message, /header:<name> or cookie:<name>/);
  const fallback = problemsOf('VirtualService', { 'trellis.io/fallback-subset': 'V2!' });
  assert.equal(fallback[0]?.path, 'metadata.annotations.trellis.io/fallback-subset');
  const budget = problemsOf('DestinationRule', { 'trellis.io/retry-budget': '{"budgetPercent": 300}' });
  assert.equal(budget[0]?.path, 'metadata.annotations.trellis.io/retry-budget');
  assert.equal(budget[0]?.severity, 'error');
  // Good values: no problems; other annotations are not Trellis's business.
  assert.deepEqual(
    problemsOf('VirtualService', {
      'trellis.io/sticky-canary': 'cookie:user',
      'trellis.io/fallback-subset': 'v1',
      'example.com/anything': '???',
    }),
    [],
  );
  assert.deepEqual(problemsOf('DestinationRule', { 'trellis.io/retry-budget': 'off' }), []);
});

test('an annotation on a kind that does not read it is a warning, not a rejection', () => {
  const onRule = problemsOf('DestinationRule', { 'trellis.io/sticky-canary': 'header:x-user' });
  assert.deepEqual(
    onRule.map((p) => [p.severity, p.path]),
    [['warning', 'metadata.annotations.trellis.io/sticky-canary']],
  );
  assert.match(onRule[0]!.message, /read on a VirtualService/);
  const onVs = problemsOf('VirtualService', { 'trellis.io/retry-budget': 'off' });
  assert.equal(onVs[0]?.severity, 'warning');
  assert.match(onVs[0].message, /read on a DestinationRule/);
});
