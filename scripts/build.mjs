#!/usr/bin/env node
/**
 * Compiles src/ to build/ (one ES module per source file, no bundling, no type check: `npm run
 * typecheck` does that) so `trellis` runs plain JavaScript instead of loading TypeScript through
 * tsx at start: tsx's loader runs in a second V8 isolate (tens of MB of RSS per process) and its
 * name-keeping wrappers cost CPU on the proxy's hot path.
 *
 * build/ mirrors src/ one level below the repository root, exactly as src/ is, so relative paths
 * in the code (`../../../package.json`, `native/`) mean the same from either. bin/trellis.mjs
 * uses build/ only while it is newer than every source file, and tsx otherwise, so an edit is
 * never served stale. Tests are not compiled.
 */
import { build } from 'esbuild';
import { tsImport } from 'tsx/esm/api';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const out = path.join(root, 'build');

async function sources(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    // The console is browser code, bundled on its own below.
    if (entry.isDirectory() && full === path.join(src, 'console')) continue;
    if (entry.isDirectory()) found.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts'))
      found.push(full);
  }
  return found;
}

const started = Date.now();
const entryPoints = await sources(src);
await rm(out, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: out,
  outbase: src,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
// The console's browser bundle, index.html and styles.css into build/console/, with the same
// function a control plane running from the sources uses (controlplane/console/assets.ts).
const { bundleConsole } = await tsImport('../src/controlplane/console/assets.ts', import.meta.url);
await bundleConsole();
// Written last: its time is what bin/trellis.mjs compares the sources with.
await writeFile(path.join(out, '.stamp'), `${new Date().toISOString()}\n`);
console.log(
  `build: ${entryPoints.length} files from src/ to build/, the console to build/console/, in ${Date.now() - started} ms`,
);
