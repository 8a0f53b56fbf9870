import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { memoryLogger } from '../core/logger.js';
import type { Resource } from '../api/resource.js';
import { DirectoryConfigStore, type ParsedDocument } from './directory-store.js';

/** A minimal parser for these tests: the real one (src/api) is tested on its own. */
function parse(text: string, file: string): ParsedDocument[] {
  return parseAllDocuments(text).map((doc, i) => {
    const source = { file, doc: i + 1 };
    if (doc.errors.length)
      return { source, problems: [{ severity: 'error', path: '', message: doc.errors[0]!.message }] };
    const r = doc.toJS() as Resource;
    r.metadata.namespace ??= 'default';
    const weight = (r.spec as { weight?: number }).weight;
    if (typeof weight === 'number' && weight < 0) {
      return { source, problems: [{ severity: 'error', path: 'spec.weight', message: 'must be >= 0' }] };
    }
    return { source, resource: r, problems: [] };
  });
}

const doc = (name: string, weight: number) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\nspec:\n  weight: ${weight}\n`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-dir-store-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const weightOf = (store: DirectoryConfigStore, name: string) =>
  (store.get('VirtualService', 'default', name)?.spec as { weight: number } | undefined)?.weight;

test('loads multi-document files and applies edits without restart', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'a.yaml'), `${doc('reviews', 1)}---\n${doc('ratings', 2)}`);
    const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
    await store.start();
    try {
      assert.equal(weightOf(store, 'reviews'), 1);
      assert.equal(weightOf(store, 'ratings'), 2);
      const changed = new Promise<void>((resolve) => store.watch(() => resolve()));
      await writeFile(path.join(dir, 'a.yaml'), doc('reviews', 5));
      await changed;
      assert.equal(weightOf(store, 'reviews'), 5);
      assert.equal(weightOf(store, 'ratings'), undefined, 'a document removed from a file is deleted');
    } finally {
      store.close();
    }
  });
});

test('an invalid edit is rejected with file:doc and path; the last good config keeps serving', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'reviews.yaml');
    await writeFile(file, doc('reviews', 1));
    const { logger, lines } = memoryLogger();
    const store = new DirectoryConfigStore(dir, { parse, logger, rescanMs: 0 });
    await store.start();
    try {
      const revision = store.revision;
      await writeFile(file, `${doc('reviews', 7)}---\n${doc('other', -1)}`);
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), 1, 'the whole file is held back');
      assert.equal(store.revision, revision);
      const errors = store.errors();
      assert.equal(errors.length, 1);
      assert.deepEqual(errors[0]?.source, { file: path.relative(process.cwd(), file), doc: 2 });
      assert.equal(errors[0]?.problems[0]?.path, 'spec.weight');
      assert.ok(
        lines.some((l) => l.includes('reviews.yaml:2: spec.weight: must be >= 0')),
        lines.join(''),
      );
      await writeFile(file, doc('reviews', 3));
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), 3);
      assert.equal(store.errors().length, 0);
    } finally {
      store.close();
    }
  });
});

test('a resource defined twice is rejected in the later file; deleting a file deletes its resources', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'a.yaml'), doc('reviews', 1));
    await writeFile(path.join(dir, 'b.yaml'), `${doc('reviews', 2)}---\n${doc('ratings', 2)}`);
    const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
    await store.start();
    try {
      assert.equal(weightOf(store, 'reviews'), 1);
      assert.equal(weightOf(store, 'ratings'), undefined);
      assert.match(store.errors()[0]?.problems[0]?.message ?? '', /already defined in .*a\.yaml/);
      await unlink(path.join(dir, 'a.yaml'));
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), 2);
      assert.equal(weightOf(store, 'ratings'), 2);
    } finally {
      store.close();
    }
  });
});

test('a file with broken YAML keeps its last good version', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, doc('reviews', 1));
    const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
    await store.start();
    try {
      await writeFile(file, 'kind: [unterminated\n');
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), 1);
      assert.equal(store.errors().length, 1);
    } finally {
      store.close();
    }
  });
});

test('a file that becomes unreadable is an error naming it, and its last good version keeps serving', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, doc('reviews', 1));
    const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
    await store.start();
    try {
      // A dangling link: unreadable even for root (a chmod 000 file is not).
      await unlink(file);
      await symlink(path.join(dir, 'moved-away.yaml'), file);
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), 1);
      assert.deepEqual(
        store.errors().map((e) => [e.source, e.problems.map((p) => p.message), e.servingLastGood]),
        [[{ file: path.relative(process.cwd(), file), doc: 0 }, ['no such file or directory'], true]],
      );
    } finally {
      store.close();
    }
  });
});

test(
  'a subdirectory that cannot be listed is an error; the files known below it keep serving',
  { skip: process.getuid?.() === 0 ? 'root can list any directory' : false },
  async () => {
    await withDir(async (dir) => {
      await mkdir(path.join(dir, 'team'));
      await writeFile(path.join(dir, 'team', 'a.yaml'), doc('reviews', 1));
      const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
      await store.start();
      try {
        await chmod(path.join(dir, 'team'), 0);
        await store.reload();
        assert.equal(weightOf(store, 'reviews'), 1);
        assert.deepEqual(
          store.errors().map((e) => e.source),
          [{ file: path.relative(process.cwd(), path.join(dir, 'team')), doc: 0 }],
        );
        await chmod(path.join(dir, 'team'), 0o755);
        await store.reload();
        assert.deepEqual(store.errors(), []);
        assert.equal(weightOf(store, 'reviews'), 1);
      } finally {
        store.close();
        await chmod(path.join(dir, 'team'), 0o755);
      }
    });
  },
);
