import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findProgram } from './command-lookup.js';

test('programs are found as a shell finds them: paths by path, names in PATH', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-lookup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'bin'));
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(path.join(dir, 'bin', 'data'), 'x', { mode: 0o644 });
  await writeFile(path.join(dir, 'app', 'run.sh'), '#!/bin/sh\n');
  await chmod(path.join(dir, 'app', 'run.sh'), 0o644);
  const PATH = [path.join(dir, 'nowhere'), path.join(dir, 'bin')].join(path.delimiter);
  const cwd = path.join(dir, 'app');

  assert.deepEqual(findProgram('tool', cwd, PATH), { found: true, file: path.join(dir, 'bin', 'tool') });
  assert.deepEqual(findProgram('../bin/tool', cwd, undefined), {
    found: true,
    file: path.join(dir, 'bin', 'tool'),
  });

  const table: [string, string | undefined, RegExp][] = [
    ['nodex', PATH, /^command not found: nodex \(not in PATH .*nowhere.*bin\)$/],
    ['nodex', '', /^command not found: nodex \(not in PATH, which is empty\)$/],
    // A file in PATH that is not executable is not the command.
    ['data', PATH, /^command not found: data /],
    // A directory is not a program either.
    ['bin', dir, /^command not found: bin /],
    ['./missing.sh', PATH, /^command not found: \.\/missing\.sh \(no such file: .*app\/missing\.sh\)$/],
    [
      './run.sh',
      PATH,
      /^command not executable: \.\/run\.sh \(.*; chmod \+x it or run it with its interpreter\)$/,
    ],
    ['', PATH, /^command not found: \(empty command\)$/],
  ];
  for (const [program, pathVar, reason] of table) {
    const r = findProgram(program, cwd, pathVar);
    assert.equal(r.found, false, program);
    if (!r.found) assert.match(r.reason, reason);
  }
});
