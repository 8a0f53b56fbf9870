import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { AppWatcher, isAppChange, watchRoots } from './app-watcher.js';

test('only source files of the app are changes to it', () => {
  const root = '/home/me/.projects/shop';
  const ignored = ['/home/me/.projects/shop/config', '/home/me/.projects/shop/config/.trellis-state'];
  const table: [string, boolean][] = [
    ['server.ts', true],
    ['lib/db.mjs', true],
    ['main.py', true],
    // Data, logs and state the app writes itself: restarting on them would loop.
    ['out/state.json', false],
    ['app.log', false],
    ['data.db', false],
    // Dependencies, hidden entries, the config directory.
    ['node_modules/x/index.js', false],
    ['lib/node_modules/y.js', false],
    ['.git/hooks/pre-commit.sh', false],
    ['.server.ts.swp', false],
    ['config/reviews.ts', false],
    ['configs/reviews.ts', true],
  ];
  // The root itself lies under a hidden directory: only the part below it counts.
  for (const [name, expected] of table) assert.equal(isAppChange(root, name, ignored), expected, name);
});

test('the working directory is watched, and the script directory when it lies outside', () => {
  assert.deepEqual(watchRoots(['node', '--import', 'tsx', 'services/x.ts'], '/app'), ['/app']);
  assert.deepEqual(watchRoots(['node', '../shared/x.mjs'], '/srv/app'), ['/srv/app', '/srv/shared']);
  assert.deepEqual(watchRoots(['./server'], '/app'), ['/app']);
  // Node's own flags are not the script, even when they name a file.
  assert.deepEqual(watchRoots(['node', '--import', 'tsx', '../shared/x.ts'], '/srv/app'), [
    '/srv/app',
    '/srv/shared',
  ]);
  assert.deepEqual(watchRoots(['node', '--require=../pre/hook.cjs', 'x.mjs'], '/srv/app'), ['/srv/app']);
  // A script at the top of the working directory, or a program that is itself a script.
  assert.deepEqual(watchRoots(['node', 'x.mjs'], '/app'), ['/app']);
  assert.deepEqual(watchRoots(['/opt/tools/run.sh', 'arg'], '/app'), ['/app']);
});

test('a burst of saves is one change; ignored files are none', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'node_modules'));
  const changes: string[] = [];
  let resolve: () => void = () => undefined;
  const changed = new Promise<void>((r) => (resolve = r));
  const watcher = new AppWatcher({
    roots: [dir],
    ignoredDirs: [],
    clock: systemClock,
    debounceMs: 200,
    onChange: (file) => {
      changes.push(file);
      resolve();
    },
  });
  watcher.start();
  t.after(() => watcher.close());
  await writeFile(path.join(dir, 'node_modules', 'dep.js'), '1');
  await writeFile(path.join(dir, 'notes.json'), '{}');
  for (let i = 0; i < 5; i++) await writeFile(path.join(dir, 'app.ts'), `// ${i}\n`);
  await changed;
  assert.deepEqual(changes, [path.join(dir, 'app.ts')]);
});
