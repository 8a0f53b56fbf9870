import { test } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMean, editDistance, suggestions } from './did-you-mean.js';

test('editDistance: inserts, deletes, substitutions and swapped neighbours count one each', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['up', 'up', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['upp', 'up', 1],
    ['analyse', 'analyze', 1],
    ['prxoy', 'proxy', 1],
    ['xds-adress', 'xds-address', 1],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3],
  ];
  for (const [a, b, d] of cases) assert.equal(editDistance(a, b), d, `${a} -> ${b}`);
});

test('suggestions: close candidates first, prefixes count, far ones and the input itself never', () => {
  const commands = [
    'analyze',
    'apply',
    'control-plane',
    'delete',
    'get',
    'proxy',
    'proxy-config',
    'proxy-status',
    'up',
  ];
  const cases: [string, string[]][] = [
    ['analyse', ['analyze']],
    ['upp', ['up']],
    ['aply', ['apply']],
    ['proxy-conf', ['proxy-config']],
    ['proxystatus', ['proxy-status']],
    ['frobnicate', []],
    ['up', []],
    ['controlplane', ['control-plane']],
    ['proxy-st', ['proxy-status']],
    ['pro', ['proxy', 'proxy-config', 'proxy-status']],
    ['pr', ['up']],
  ];
  for (const [input, expected] of cases) assert.deepEqual(suggestions(input, commands), expected, input);
});

test("suggestions: only the closest, in the candidates' order", () => {
  assert.deepEqual(suggestions('analyzze', ['analyse', 'analyze']), ['analyze']);
  assert.deepEqual(suggestions('upp', ['tap', 'top', 'up']), ['up']);
  assert.deepEqual(suggestions('ab', ['ac', 'ab', 'bb', 'a']), ['ac', 'bb', 'a']);
});

test('didYouMean: one or several names, with the prefix, or nothing', () => {
  assert.equal(
    didYouMean('xds-adress', ['xds-address', 'http-address'], '--'),
    ' (did you mean --xds-address?)',
  );
  assert.equal(didYouMean('ab', ['aa', 'bb', 'cc']), ' (did you mean aa or bb?)');
  assert.equal(didYouMean('ab', ['aa', 'ac', 'bb', 'cb']), ' (did you mean aa, ac or bb?)');
  assert.equal(didYouMean('zzzzzz', ['up']), '');
});
