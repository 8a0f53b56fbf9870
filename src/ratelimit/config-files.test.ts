import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isTrellisError } from '../core/errors.js';
import { memoryLogger } from '../core/logger.js';
import { ConfigFileWatcher, loadConfigPath } from './config-files.js';
import { RateLimitService } from './service.js';
import { README_EXAMPLES } from './testdata/readme-examples.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rl-'));
}

test('config files: a directory loads every YAML file; errors name the file and field', () => {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'a.yaml'), README_EXAMPLES.example1!);
    fs.writeFileSync(path.join(dir, 'b.yml'), README_EXAMPLES.example2!);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not config');
    assert.deepEqual(
      loadConfigPath(dir).domains.map((d) => d.domain),
      ['mongo_cps', 'messaging'],
    );
    fs.writeFileSync(
      path.join(dir, 'c.yaml'),
      'domain: mongo_cps\ndescriptors:\n  - key: x\n    rate_limit: {unit: second}\n',
    );
    assert.throws(
      () => loadConfigPath(dir),
      (e: unknown) =>
        isTrellisError(e, 'TRELLIS_INVALID_CONFIG') &&
        e.file === path.join(dir, 'c.yaml') &&
        e.message.includes('descriptors[0].rate_limit.requests_per_unit: expected a whole number >= 0'),
    );
    fs.writeFileSync(path.join(dir, 'c.yaml'), 'domain: mongo_cps\n');
    assert.throws(
      () => loadConfigPath(dir),
      (e: unknown) =>
        isTrellisError(e, 'TRELLIS_INVALID_CONFIG') &&
        e.file === path.join(dir, 'c.yaml') &&
        e.message.includes(`domain: domain "mongo_cps" is already defined in ${path.join(dir, 'a.yaml')}`),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('config files: an edit is applied; an invalid edit is logged and the last good config kept', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'limits.yaml');
  const { logger, lines } = memoryLogger();
  const service = new RateLimitService();
  const watcher = new ConfigFileWatcher({ path: file, service, logger, debounceMs: 20 });
  const nextReload = () => new Promise<boolean>((resolve) => watcher.onReload(resolve));
  try {
    fs.writeFileSync(file, README_EXAMPLES.example1!);
    watcher.load();
    watcher.watch();
    let reloaded = nextReload();
    fs.writeFileSync(file, README_EXAMPLES.example1!.replaceAll('500', '7'));
    assert.equal(await reloaded, true);
    const limitOf = async () =>
      (
        await service.shouldRateLimit({
          domain: 'mongo_cps',
          descriptors: [{ entries: [{ key: 'database', value: 'users' }] }],
        })
      ).statuses[0]!.current_limit?.requests_per_unit;
    assert.equal(await limitOf(), 7);

    reloaded = nextReload();
    fs.writeFileSync(
      file,
      'domain: mongo_cps\ndescriptors:\n  - key: database\n    rate_limit: {unit: fortnight, requests_per_unit: 1}\n',
    );
    assert.equal(await reloaded, false);
    assert.equal(await limitOf(), 7, 'the last good config is still in force');
    assert.ok(
      lines.some((l) => l.includes('limits.yaml') && l.includes('descriptors[0].rate_limit.unit')),
      lines.join(''),
    );
    assert.equal(service.metrics.configReloadErrors, 1);
  } finally {
    watcher.close();
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
