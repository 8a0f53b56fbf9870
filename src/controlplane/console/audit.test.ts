import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../core/clock.js';
import { AuditTrail } from './audit.js';

const edit = (user: string, n: number) => ({
  user,
  role: 'editor',
  action: 'apply' as const,
  resources: [`TrafficFilter default/f${n}`],
  outcome: 'applied' as const,
  revision: n,
});

test('records carry the time and who; the newest come first; memory keeps the last `limit`', () => {
  const clock = new FakeClock();
  const trail = new AuditTrail({ clock, limit: 2 });
  const first = trail.record(edit('alice', 1));
  assert.equal(first.at, new Date(clock.wallNow()).toISOString());
  clock.advance(1000);
  trail.record(edit('bob', 2));
  trail.record(edit('alice', 3));
  assert.deepEqual(
    trail.list().map((r) => `${r.user}:${r.revision}`),
    ['alice:3', 'bob:2'],
  );
});

test('every record is appended to the file as one JSON line, in order, past the memory limit too', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state', 'console-audit.jsonl');
  const trail = new AuditTrail({ clock: new FakeClock(), file, limit: 1 });
  trail.record(edit('alice', 1));
  trail.record({ ...edit('bob', 2), outcome: 'rejected', problems: ['<request>:1: spec.timeout: bad'] });
  await trail.flushed();
  const lines = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { user: string; outcome: string; problems?: string[] });
  assert.deepEqual(
    lines.map((l) => [l.user, l.outcome]),
    [
      ['alice', 'applied'],
      ['bob', 'rejected'],
    ],
  );
  assert.deepEqual(lines[1]?.problems, ['<request>:1: spec.timeout: bad']);
  // A second trail on the same file appends; it never rewrites what is there.
  const again = new AuditTrail({ clock: new FakeClock(), file });
  again.record(edit('carol', 3));
  await again.flushed();
  assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, 3);
});

test('a file that cannot be written is logged; the trail keeps recording', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const notADir = path.join(dir, 'file');
  await writeFile(notADir, '');
  const logged: string[] = [];
  const logger = {
    error: (msg: string) => logged.push(msg),
  } as unknown as import('../../core/logger.js').Logger;
  const trail = new AuditTrail({ clock: new FakeClock(), file: path.join(notADir, 'audit.jsonl'), logger });
  trail.record(edit('alice', 1));
  await trail.flushed();
  assert.deepEqual(logged, ['could not append to the console audit file']);
  assert.equal(trail.list().length, 1);
});
