#!/usr/bin/env node
// Entry point. Runs the compiled CLI in build/ (scripts/build.mjs) when it is newer than every
// file in src/, else registers tsx and runs the TypeScript sources, so an edit is never served
// stale. TRELLIS_TSX=1 forces the sources. A node:cluster worker (`trellis proxy --concurrency N`)
// runs whatever its primary runs (TRELLIS_ENTRY), even if src/ changed in between.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const t = entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function buildIsFresh() {
  if (process.env.NODE_UNIQUE_ID !== undefined && process.env.TRELLIS_ENTRY !== undefined)
    return process.env.TRELLIS_ENTRY === 'build';
  if (process.env.TRELLIS_TSX === '1') return false;
  try {
    return statSync(path.join(root, 'build', '.stamp')).mtimeMs >= newestSource(path.join(root, 'src'));
  } catch {
    return false;
  }
}

let main;
const fromBuild = buildIsFresh();
process.env.TRELLIS_ENTRY = fromBuild ? 'build' : 'src';
if (fromBuild) {
  ({ main } = await import('../build/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
// A command that failed while starting (a port in use) may leave a watcher or socket open:
// its message is printed, so exit rather than hang.
if (typeof code === 'number' && code !== 0) process.exit(code);
