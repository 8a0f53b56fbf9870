import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinePrefixer, prefixFor } from './output.js';

test('prefixes whole lines only, holding a partial line until its newline', () => {
  const out: string[] = [];
  const p = new LinePrefixer(prefixFor('ratings', 10), (t) => out.push(t));
  p.push('one\ntw');
  p.push('o\r\nthree');
  assert.deepEqual(out, ['ratings    | one\n', 'ratings    | two\n']);
  p.flush();
  assert.equal(out.at(-1), 'ratings    | three\n');
  p.flush();
  assert.equal(out.length, 3);
});
