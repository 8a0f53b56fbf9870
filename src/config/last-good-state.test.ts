/**
 * A restart of a directory store while a file is invalid: the file's last accepted version,
 * persisted in the state directory, keeps serving (regression: it was kept only in memory, so
 * a restart dropped its resources and traffic pinned to one version became round-robin).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { memoryLogger } from '../core/logger.js';
import type { Resource } from '../api/resource.js';
import { DirectoryConfigStore, type ParsedDocument } from './directory-store.js';
import { DEFAULT_STATE_DIR_NAME } from './last-good-state.js';

/** A minimal parser: YAML, and a negative spec.weight is invalid (src/api is tested on its own). */
function parse(text: string, file: string): ParsedDocument[] {
  return parseAllDocuments(text).map((doc, i) => {
    const source = { file, doc: i + 1 };
    if (doc.errors.length)
      return { source, problems: [{ severity: 'error', path: '', message: doc.errors[0]!.message }] };
    const r = doc.toJS() as Resource;
    r.metadata.namespace ??= 'default';
    const weight = (r.spec as { weight?: number }).weight;
    if (typeof weight === 'number' && weight < 0)
      return { source, problems: [{ severity: 'error', path: 'spec.weight', message: 'must be >= 0' }] };
    return { source, resource: r, problems: [] };
  });
}

const vs = (name: string, weight: number) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\nspec:\n  weight: ${weight}\n`;

const weightOf = (store: DirectoryConfigStore, name: string) =>
  (store.get('VirtualService', 'default', name)?.spec as { weight: number } | undefined)?.weight;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-last-good-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts a store on `dir` with the default state directory, runs `fn`, closes it. */
async function run<T>(
  dir: string,
  fn: (store: DirectoryConfigStore, log: string[]) => T | Promise<T>,
): Promise<T> {
  const { logger, lines } = memoryLogger('config');
  const store = new DirectoryConfigStore(dir, {
    parse,
    rescanMs: 0,
    logger,
    stateDir: path.join(dir, DEFAULT_STATE_DIR_NAME),
  });
  await store.start();
  try {
    return await fn(store, lines);
  } finally {
    store.close();
  }
}

test('restart while a file is invalid: its last accepted version serves, and errors() says so', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 90));
    await writeFile(path.join(dir, 'ratings.yaml'), vs('ratings', 10));
    await run(dir, (store) => assert.equal(weightOf(store, 'reviews'), 90));

    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', -1));
    await run(dir, (store, log) => {
      assert.equal(weightOf(store, 'reviews'), 90, 'the last accepted version serves');
      assert.equal(weightOf(store, 'ratings'), 10);
      const errors = store.errors();
      assert.equal(errors.length, 1);
      const statePath = path.join(dir, DEFAULT_STATE_DIR_NAME, 'last-good', 'reviews.yaml.json');
      assert.equal(errors[0]!.servingLastGood, true);
      assert.equal(errors[0]!.lastGoodFrom, statePath);
      assert.match(errors[0]!.problems[0]!.message, /must be >= 0/);
      const said = log.join('');
      assert.match(said, /reviews\.yaml:1: spec\.weight: must be >= 0/);
      assert.ok(said.includes(`serving last accepted version from ${statePath}`), said);
      assert.equal(store.list('VirtualService').length, 2, 'the state directory is not read as config');
    });

    // Fixed: the new version is accepted, and is what a later restart falls back to.
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 50));
    await run(dir, (store) => assert.equal(weightOf(store, 'reviews'), 50));
    await writeFile(path.join(dir, 'reviews.yaml'), 'kind: [unclosed');
    await run(dir, (store) => {
      assert.equal(weightOf(store, 'reviews'), 50);
      assert.equal(store.errors()[0]!.servingLastGood, true);
    });
  });
});

test('a file deleted while stopped is not resurrected from state, nor after it comes back invalid', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 90));
    await writeFile(path.join(dir, 'ratings.yaml'), vs('ratings', 10));
    await run(dir, (store) => assert.equal(store.list('VirtualService').length, 2));

    await unlink(path.join(dir, 'reviews.yaml'));
    await run(dir, (store) => {
      assert.equal(weightOf(store, 'reviews'), undefined);
      assert.equal(store.errors().length, 0);
    });
    const entries = await readdir(path.join(dir, DEFAULT_STATE_DIR_NAME, 'last-good'));
    assert.deepEqual(entries, ['ratings.yaml.json']);

    // A file of the same name that reappears invalid has nothing to fall back to.
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', -1));
    await run(dir, (store) => {
      assert.equal(weightOf(store, 'reviews'), undefined);
      assert.equal(store.errors()[0]!.servingLastGood, false);
    });
  });
});

test('a file deleted while running loses its state too', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 90));
    await run(dir, async (store) => {
      await unlink(path.join(dir, 'reviews.yaml'));
      await store.reload();
      assert.equal(weightOf(store, 'reviews'), undefined);
    });
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', -1));
    await run(dir, (store) => assert.equal(weightOf(store, 'reviews'), undefined));
  });
});

test('a corrupt or hand-edited state entry is ignored with a warning, never served', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 90));
    await writeFile(path.join(dir, 'ratings.yaml'), vs('ratings', 10));
    await run(dir, () => undefined);
    const entries = path.join(dir, DEFAULT_STATE_DIR_NAME, 'last-good');
    await writeFile(path.join(entries, 'reviews.yaml.json'), '{"format":1,"file":"reviews.yaml","te');
    const ratings = JSON.parse(await readFile(path.join(entries, 'ratings.yaml.json'), 'utf8')) as {
      text: string;
    };
    ratings.text = vs('ratings', 11); // edited by hand: the checksum no longer matches
    await writeFile(path.join(entries, 'ratings.yaml.json'), JSON.stringify(ratings));

    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', -1));
    await writeFile(path.join(dir, 'ratings.yaml'), vs('ratings', -1));
    await run(dir, (store, log) => {
      assert.equal(weightOf(store, 'reviews'), undefined);
      assert.equal(weightOf(store, 'ratings'), undefined);
      assert.deepEqual(
        store.errors().map((e) => e.servingLastGood),
        [false, false],
      );
      const warnings = log.filter((l) => / warn config: ignoring unusable persisted state/.test(l));
      assert.equal(warnings.length, 2, log.join(''));
      assert.match(warnings.join(''), /not JSON/);
      assert.match(warnings.join(''), /checksum mismatch/);
    });
  });
});

test('without a state directory nothing is written (trellis analyze, embedded use)', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'reviews.yaml'), vs('reviews', 90));
    const store = new DirectoryConfigStore(dir, { parse, rescanMs: 0 });
    await store.start();
    store.close();
    assert.deepEqual(await readdir(dir), ['reviews.yaml']);
  });
});
