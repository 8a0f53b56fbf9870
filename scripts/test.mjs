#!/usr/bin/env node
// Runs the test files under the given folders (default: src and test) with Node's test runner
// through tsx. Node 20's --test does not expand globs, so the files are found here.
// Usage: node scripts/test.mjs [DIR|FILE ...] [-- extra node --test flags]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const targets = (sep === -1 ? argv : argv.slice(0, sep)).filter(Boolean);
const extra = sep === -1 ? [] : argv.slice(sep + 1);

function collect(p, out) {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isFile()) {
    if (p.endsWith('.test.ts')) out.push(p);
    return;
  }
  for (const entry of readdirSync(p).sort()) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    collect(path.join(p, entry), out);
  }
}

const files = [];
for (const t of targets.length ? targets : ['src', 'test']) collect(t, files);
if (files.length === 0) {
  console.error('test: no test files found');
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
