import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CEL_LIMITS, type CelRefused, compileConfigCel, configCelRefusal } from './cel-guard.js';

const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`;

// What Istio's Telemetry examples and Envoy's CEL filters write: accepted and evaluated as before.
const ACCEPTED: [string, Record<string, unknown>, unknown][] = [
  ['response.code >= 400', { response: { code: 503n } }, true],
  ["request.headers['x-debug'] == 'true'", { request: { headers: { 'x-debug': 'true' } } }, true],
  [
    "has(request.headers.foo) || request.path.startsWith('/api')",
    { request: { headers: {}, path: '/api/x' } },
    true,
  ],
  ["request.method in ['GET', 'HEAD']", { request: { method: 'PUT' } }, false],
  ["request.path.matches('^/v[0-9]+/')", { request: { path: '/v2/a' } }, true],
  ["'prefix-' + request.host", { request: { host: 'a' } }, 'prefix-a'],
  [`1 in ${list(CEL_LIMITS.maxListElements)}`, {}, true],
  ['cel.bind(c, response.code, c >= 500 && c < 600)', { response: { code: 502n } }, true],
];

for (const [expr, ctx, want] of ACCEPTED) {
  test(`config CEL accepted: ${expr.slice(0, 60)}`, () => {
    assert.equal(configCelRefusal(expr), undefined);
    assert.deepEqual(compileConfigCel(expr)(ctx), want);
  });
}

const COMPREHENSION =
  /^the comprehension (\w+)\(\) is not allowed: it runs once per element on every request/;

const REFUSED: [string, string, RegExp][] = [
  ['nested all (the reported one)', `${list(60)}.all(a, ${list(60)}.all(b, true))`, COMPREHENSION],
  ['exists', "request.headers.exists(k, k == 'x')", COMPREHENSION],
  ['exists_one', 'request.x.exists_one(k, k == 1)', COMPREHENSION],
  ['map', 'size(request.x.map(k, k)) > 0', COMPREHENSION],
  ['filter', 'size(request.x.filter(k, true)) > 0', COMPREHENSION],
  ['map with three arguments', 'size(request.x.map(k, true, k)) > 0', COMPREHENSION],
  [
    'a comprehension deep inside',
    "response.code == 200 && (request.path == '/' || [1].all(x, x > 0))",
    COMPREHENSION,
  ],
  ['a comprehension in a bind', 'cel.bind(l, request.x, l.exists(e, e == 1))', COMPREHENSION],
  [
    'a list literal over the limit',
    `1 in ${list(CEL_LIMITS.maxListElements + 1)}`,
    /^Exceeded maxListElements \(64\): CEL from config is limited/,
  ],
  [
    'a map literal over the limit',
    `'a' in {${Array.from({ length: 65 }, (_, i) => `'k${i}': 1`).join(', ')}}`,
    /^Exceeded maxMapEntries \(64\)/,
  ],
  ['nesting over the limit', `${'('.repeat(40)}1${')'.repeat(40)} == 1`, /^Exceeded maxDepth \(32\)/],
  [
    'too many nodes',
    Array.from({ length: 300 }, () => 'a').join(' + '),
    /^Exceeded maxAstNodes \(400\).*split or simplify the expression$/,
  ],
  ['not CEL', 'response.code >=', /^Unexpected token: EOF$/],
];

for (const [name, expr, reason] of REFUSED) {
  test(`config CEL refused: ${name}`, () => {
    assert.match(configCelRefusal(expr) ?? 'accepted', reason);
    assert.throws(
      () => compileConfigCel(expr),
      (e: Error) => reason.test(e.message),
    );
  });
}

test('config CEL: the reason names the comprehension used', () => {
  assert.match(
    configCelRefusal('request.x.exists_one(k, k == 1)') ?? '',
    /^the comprehension exists_one\(\)/,
  );
  assert.match(
    configCelRefusal("request.headers.filter(k, k == 'x').size() > 0") ?? '',
    /comprehension filter\(\)/,
  );
});

test('config CEL: a comprehension name called as a function is refused too', () => {
  assert.match(configCelRefusal('all(request.x, k, true)') ?? 'accepted', COMPREHENSION);
});

test('config CEL: a limit refusal lists every limit, and says it is about cost', () => {
  assert.equal(
    configCelRefusal(`1 in ${list(65)}`),
    'Exceeded maxListElements (64): CEL from config is limited in size and nesting (maxAstNodes 400, maxDepth 32, maxListElements 64, maxMapEntries 64, maxCallArguments 8) as it runs on every request; split or simplify the expression',
  );
  const kind = (expr: string) => {
    try {
      compileConfigCel(expr);
      return 'accepted';
    } catch (err) {
      return (err as CelRefused).kind;
    }
  };
  assert.equal(kind(`1 in ${list(65)}`), 'cost');
  assert.equal(kind('[1].all(x, true)'), 'cost');
  assert.equal(kind('response.code >='), 'syntax');
  assert.equal(kind('Exceeded'), 'accepted');
});
