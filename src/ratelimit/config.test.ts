import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../core/errors.js';
import { compileDomains, parseConfigYaml, validateDomains } from './config.js';
import { README_EXAMPLES } from './testdata/readme-examples.js';

function problemsOf(yaml: string): string[] {
  try {
    validateDomains(parseConfigYaml(yaml, 'limits.yaml'), 'limits.yaml');
    return [];
  } catch (err) {
    assert.ok(isTrellisError(err, 'TRELLIS_INVALID_CONFIG'));
    assert.equal(err.file, 'limits.yaml');
    return err.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
}

test('config: every envoyproxy/ratelimit README example is accepted unchanged', () => {
  for (const [name, yaml] of Object.entries(README_EXAMPLES)) {
    assert.deepEqual(problemsOf(yaml), [], name);
  }
});

test('config: invalid fields are reported with their paths, all at once', () => {
  const problems = problemsOf(`
domain: bad
descriptors:
  - key: a
    rate_limit:
      unit: fortnight
      requests_per_unit: -1
  - value: x
    descriptors:
      - key: b
        rate_limt: {}
        rate_limit:
          unit: second
          requests_per_unit: 5
          algorithm: leaky
          burst: 0
`);
  assert.deepEqual(problems, [
    'descriptors[0].rate_limit.unit: expected one of second, minute, hour, day',
    'descriptors[0].rate_limit.requests_per_unit: expected a whole number >= 0',
    'descriptors[1].key: expected a non-empty string',
    'descriptors[1].descriptors[0].rate_limt: unknown field; expected one of key, value, rate_limit, descriptors, shadow_mode, detailed_metric',
    'descriptors[1].descriptors[0].rate_limit.algorithm: expected one of token_bucket, fixed_window',
    'descriptors[1].descriptors[0].rate_limit.burst: expected a whole number >= 1',
  ]);
});

test('config: duplicate descriptors and duplicate domains are errors', () => {
  assert.deepEqual(
    problemsOf(`
domain: d
descriptors:
  - key: a
    value: "1"
  - key: a
    value: "1"
`),
    ['descriptors[1]: duplicate descriptor "a_1" in the same list'],
  );
  assert.deepEqual(problemsOf('domain: d\n---\ndomain: d\n'), [
    '[1].domain: domain "d" is also defined by [0]',
  ]);
});

test('config: YAML syntax errors name the file', () => {
  assert.throws(
    () => parseConfigYaml('domain: [unclosed', 'broken.yaml'),
    (err: unknown) => isTrellisError(err, 'TRELLIS_INVALID_CONFIG') && err.file === 'broken.yaml',
  );
});

test('config: Trellis additions (algorithm, burst) compile with their defaults', () => {
  const domains = validateDomains(
    parseConfigYaml(
      `
domain: shop
algorithm: fixed_window
descriptors:
  - key: a
    rate_limit: { unit: Minute, requests_per_unit: 60 }
  - key: b
    rate_limit: { unit: second, requests_per_unit: 10, algorithm: token_bucket, burst: 50 }
  - key: c
    value: 500
    rate_limit: { unit: hour, requests_per_unit: 1 }
`,
      'shop.yaml',
    ),
  );
  const root = compileDomains(domains).get('shop')!.root;
  const a = root.anyValue.get('a')!.limit!;
  const b = root.anyValue.get('b')!.limit!;
  assert.deepEqual([a.algorithm, a.unit, a.unitMs, a.burst], ['fixed_window', 'minute', 60_000, 60]);
  assert.deepEqual([b.algorithm, b.burst, b.requestsPerUnit], ['token_bucket', 50, 10]);
  assert.ok(root.exact.get('c\x1f500'), 'numeric values are read as text');
  const plain = compileDomains(
    validateDomains([
      { domain: 'x', descriptors: [{ key: 'k', rate_limit: { unit: 'second', requests_per_unit: 1 } }] },
    ]),
    {
      defaultAlgorithm: 'fixed_window',
    },
  );
  assert.equal(plain.get('x')!.root.anyValue.get('k')!.limit!.algorithm, 'fixed_window');
});
