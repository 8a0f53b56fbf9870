import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isConfigFileName, isUnreadable, listConfigFiles, readConfigFiles } from './config-files.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-config-files-'));
  try {
    await fn(dir);
  } finally {
    await chmod(path.join(dir, 'locked'), 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

test('config file names: yaml, yml and json in any case, nothing else', () => {
  const table: [string, boolean][] = [
    ['a.yaml', true],
    ['a.yml', true],
    ['a.json', true],
    ['A.YAML', true],
    ['b.Yml', true],
    ['c.JSON', true],
    ['a.yaml.bak', false],
    ['a.txt', false],
    ['yaml', false],
  ];
  for (const [name, want] of table) assert.equal(isConfigFileName(name), want, name);
});

test('a directory: config files recursively and sorted; hidden entries skipped; links to files followed', async () => {
  await withDir(async (dir) => {
    await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    await mkdir(path.join(dir, '.git'));
    await writeFile(path.join(dir, 'b.YAML'), 'b');
    await writeFile(path.join(dir, 'a.json'), 'a');
    await writeFile(path.join(dir, 'sub', 'deeper', 'c.yml'), 'c');
    await writeFile(path.join(dir, 'notes.txt'), 'not config');
    await writeFile(path.join(dir, '.swap.yaml'), 'hidden');
    await writeFile(path.join(dir, '.git', 'x.yaml'), 'hidden');
    // A Kubernetes ConfigMap mount: `..data/` holds the files, links point into it.
    await mkdir(path.join(dir, '..data'));
    await writeFile(path.join(dir, '..data', 'cm.yaml'), 'cm');
    await symlink(path.join(dir, '..data', 'cm.yaml'), path.join(dir, 'cm.yaml'));
    const entries = await readConfigFiles(dir);
    assert.deepEqual(
      entries.map((e) => [path.relative(dir, e.file), isUnreadable(e) ? e.message : e.text]),
      [
        ['a.json', 'a'],
        ['b.YAML', 'b'],
        ['cm.yaml', 'cm'],
        [path.join('sub', 'deeper', 'c.yml'), 'c'],
      ],
    );
  });
});

test('what cannot be read is a finding with its path: dangling links, unlistable directories, unreadable files', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'ok.yaml'), 'ok');
    await symlink(path.join(dir, 'gone.yaml'), path.join(dir, 'dangling.yaml'));
    const root = process.getuid?.() === 0;
    if (!root) {
      await mkdir(path.join(dir, 'locked'));
      await writeFile(path.join(dir, 'locked', 'x.yaml'), 'x');
      await chmod(path.join(dir, 'locked'), 0);
      await writeFile(path.join(dir, 'secret.yaml'), 's', { mode: 0 });
    }
    const entries = await readConfigFiles(dir);
    const shown = entries.map((e) =>
      isUnreadable(e)
        ? `${path.relative(dir, e.file)}: ${e.directory ? 'directory ' : ''}${e.message.split(':')[0]}`
        : `${path.relative(dir, e.file)}: ok`,
    );
    assert.deepEqual(shown, [
      'dangling.yaml: no such file or directory',
      ...(root ? [] : ['locked: directory cannot read']),
      'ok.yaml: ok',
      ...(root ? [] : ['secret.yaml: cannot read']),
    ]);
  });
});

test('a named file stands for itself whatever its name; a missing target is a finding, not a throw', async () => {
  await withDir(async (dir) => {
    await writeFile(path.join(dir, 'resources.txt'), 'x');
    assert.deepEqual((await listConfigFiles(path.join(dir, 'resources.txt'))).files, [
      path.join(dir, 'resources.txt'),
    ]);
    const missing = await readConfigFiles(path.join(dir, 'nope'));
    assert.deepEqual(missing, [
      { file: path.join(dir, 'nope'), message: 'no such file or directory', directory: true },
    ]);
  });
});
