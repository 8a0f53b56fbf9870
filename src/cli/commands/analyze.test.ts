import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';
import { command } from './analyze.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/api/', import.meta.url));

function capture(): { io: CommandIo; out: () => string[]; err: () => string } {
  let out = '';
  let err = '';
  const io: CommandIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: {},
    cwd: FIXTURES,
  };
  return { io, out: () => out.split('\n').filter((l) => l !== ''), err: () => err };
}

test('analyze: the valid fixtures produce no issues and exit 0', async () => {
  const c = capture();
  assert.equal(await command.run(['valid'], c.io), 0);
  assert.deepEqual(c.out(), ['✔ No validation issues found when analyzing 8 files']);
});

test('analyze: one line per problem, FILE:DOC: PATH: MESSAGE, then the summary; exit 1', async () => {
  const c = capture();
  assert.equal(await command.run(['invalid/reviews.yaml', 'warnings'], c.io), 1);
  assert.deepEqual(c.out(), [
    'invalid/reviews.yaml:1: spec.http[0].route: weights sum to 0',
    'invalid/reviews.yaml:1: spec.http[1].retry: unknown field; allowed: name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrorPercentage, mirrorPercent, mirrors, corsPolicy, headers',
    'invalid/reviews.yaml:1: spec.http[1].redirect: cannot be combined with route',
    'invalid/reviews.yaml:2: warning: spec.trafficPolicy.outlierDetection.consecutiveErrors: deprecated; use consecutiveGatewayErrors or consecutive5xxErrors instead',
    'invalid/reviews.yaml:2: spec.subsets[1].name: duplicate subset name "v1"',
    'invalid/reviews.yaml:3: metadata.name: VirtualService default/reviews is already defined at invalid/reviews.yaml:1',
    'warnings/split.yaml:1: warning: spec.http[0].route: weights sum to 75, not 100; traffic is split in proportion to the weights (each weight / 75)',
    'Error: 5 errors, 2 warnings',
  ]);
});

test('analyze: YAML syntax errors carry the line; missing files are errors', async () => {
  const c = capture();
  assert.equal(await command.run(['invalid/broken.yaml', 'missing.yaml'], c.io), 1);
  assert.deepEqual(c.out(), [
    'missing.yaml: no such file or directory',
    'invalid/broken.yaml:1: line 8, column 5: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    'Error: 2 errors, 0 warnings',
  ]);
});

test('analyze: warnings alone exit 0', async () => {
  const c = capture();
  assert.equal(await command.run(['warnings/split.yaml'], c.io), 0);
  assert.equal(c.out().at(-1), '✔ No errors found when analyzing 1 file; 1 warning');
});

test('analyze: bad usage exits 2', async () => {
  const none = capture();
  assert.equal(await command.run([], none.io), 2);
  assert.match(none.err(), /expected at least one FILE or DIR/);
  const flag = capture();
  assert.equal(await command.run(['--strict', 'valid'], flag.io), 2);
  assert.match(flag.err(), /--strict/);
});

test('analyze is registered in the trellis command table', async () => {
  const c = capture();
  assert.equal(await main(['analyze', 'valid'], c.io), 0);
});
