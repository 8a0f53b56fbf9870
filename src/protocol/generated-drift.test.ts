/**
 * The committed generated types (src/protocol/generated) are exactly what
 * `npm run gen:types` produces from the pinned protos: a hand edit, a stale file or a
 * generator/dependency upgrade without regeneration fails here, naming the file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const repo = path.resolve(import.meta.dirname, '../..');
const committed = path.join(repo, 'src/protocol/generated');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

test('src/protocol/generated matches a fresh run of scripts/gen-envoy-types.mjs', () => {
  const fresh = mkdtempSync(path.join(os.tmpdir(), 'trellis-drift-'));
  try {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(repo, 'scripts/gen-envoy-types.mjs'), '--out', fresh],
      {
        cwd: repo,
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 60_000,
      },
    );
    const want = listFiles(fresh);
    const have = listFiles(committed);
    const missing = want.filter((f) => !have.includes(f));
    const extra = have.filter((f) => !want.includes(f));
    const changed = want.filter(
      (f) =>
        have.includes(f) &&
        readFileSync(path.join(fresh, f), 'utf8') !== readFileSync(path.join(committed, f), 'utf8'),
    );
    const problems = [
      ...missing.map((f) => `missing: src/protocol/generated/${f}`),
      ...extra.map((f) => `not generated (remove it): src/protocol/generated/${f}`),
      ...changed.map((f) => `differs from the generator's output: src/protocol/generated/${f}`),
    ];
    assert.deepEqual(problems, [], `${problems.join('\n')}\nrun: npm run gen:types`);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
});
