import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureLocalTokenFile, loadConsoleTokens, localUser } from './console-tokens.js';

test('up makes one editor token for the local user, private, and keeps it across runs', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'console-tokens-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await ensureLocalTokenFile(path.join(dir, 'state'), 'alice');
  assert.equal(first.created, true);
  assert.equal((await stat(first.file)).mode & 0o777, 0o600);
  const [entry] = await loadConsoleTokens(first.file);
  assert.deepEqual([entry?.user, entry?.role], ['alice', 'editor']);
  assert.ok((entry?.token.length ?? 0) >= 32, 'a long random token');
  const text = await readFile(first.file, 'utf8');
  const again = await ensureLocalTokenFile(path.join(dir, 'state'), 'alice');
  assert.deepEqual(again, { file: first.file, created: false });
  assert.equal(await readFile(first.file, 'utf8'), text, 'the same token next time');
});

test('a file the user wrote is loaded as written; a bad one is refused with its line', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'console-tokens-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tokens.csv');
  await writeFile(file, 'x,carol,3,"dev"\n');
  await assert.rejects(
    loadConsoleTokens(file),
    /--console-tokens: .*tokens\.csv:1: user "carol" is in neither/,
  );
  await assert.rejects(loadConsoleTokens(path.join(dir, 'missing.csv')), /cannot read it/);
});

test('the local user name never breaks the CSV line', () => {
  assert.equal(localUser({ USER: 'alice' }), 'alice');
  assert.equal(localUser({ USER: 'a "b", c' }), 'abc');
  assert.equal(localUser({ USER: '', LOGNAME: undefined }), 'local');
});
