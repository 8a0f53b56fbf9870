/**
 * The console's files: the browser bundle esbuild makes from src/console/ (main.ts and what it
 * imports, cytoscape included), index.html and styles.css, all in build/console/. `npm run
 * build` makes them; a control plane running from the sources (tsx) makes them on start when
 * they are missing or older than a source file, so an edit to the console is never served stale.
 * Each file is written aside and renamed, so control planes starting together never serve half.
 */
import { copyFile, mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, TrellisError } from '../../core/errors.js';

/** The repository root: src/ and build/ both sit one level below it. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

export interface ConsoleAssetDirs {
  /** src/console: the sources (absent in an installation without them). */
  source: string;
  /** build/console: what is served. */
  out: string;
}

export const defaultAssetDirs = (root = REPO_ROOT): ConsoleAssetDirs => ({
  source: path.join(root, 'src', 'console'),
  out: path.join(root, 'build', 'console'),
});

const STATIC_FILES = ['index.html', 'styles.css'];
export const SERVED_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
};

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    const t = e.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs;
    newest = Math.max(newest, t);
  }
  return newest;
}

async function oldestOutput(out: string): Promise<number | undefined> {
  let oldest = Infinity;
  for (const f of Object.keys(SERVED_FILES)) {
    const st = await stat(path.join(out, f)).catch(() => undefined);
    if (!st) return undefined;
    oldest = Math.min(oldest, st.mtimeMs);
  }
  return oldest;
}

/** Bundles src/console into build/console (esbuild's API; esbuild is a dev dependency). */
export async function bundleConsole(dirs: ConsoleAssetDirs = defaultAssetDirs()): Promise<void> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `the console is not built and esbuild is not installed to build it (${errorMessage(err)}); run npm run build where the sources are`,
    );
  }
  await mkdir(dirs.out, { recursive: true });
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const js = path.join(dirs.out, `app.js.${tag}`);
  await esbuild.build({
    entryPoints: [path.join(dirs.source, 'main.ts')],
    bundle: true,
    outfile: js,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: path.join(dirs.source, 'tsconfig.json'),
  });
  for (const f of STATIC_FILES) {
    await copyFile(path.join(dirs.source, 'static', f), path.join(dirs.out, `${f}.${tag}`));
    await rename(path.join(dirs.out, `${f}.${tag}`), path.join(dirs.out, f));
  }
  // Last: its time is what freshness compares with the sources.
  await rename(js, path.join(dirs.out, 'app.js'));
}

/** Bundles when the served files are missing or older than a source file; else nothing. */
export async function ensureConsoleBundle(
  dirs: ConsoleAssetDirs = defaultAssetDirs(),
): Promise<'fresh' | 'built'> {
  const hasSources = await stat(dirs.source).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const oldest = await oldestOutput(dirs.out);
  if (!hasSources) {
    if (oldest === undefined)
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        `the console is not built (${dirs.out}); run npm run build`,
      );
    return 'fresh';
  }
  if (oldest !== undefined && oldest >= (await newestMtime(dirs.source))) return 'fresh';
  await bundleConsole(dirs);
  return 'built';
}

/** Reads a served file; undefined for a name that is not one. */
export async function readConsoleFile(dirs: ConsoleAssetDirs, name: string): Promise<string | undefined> {
  if (!Object.hasOwn(SERVED_FILES, name)) return undefined;
  return await readFile(path.join(dirs.out, name), 'utf8');
}
