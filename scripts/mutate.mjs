#!/usr/bin/env node
// Mutation testing, one source module at a time, with only the tests that cover it.
// Usage: npm run mutate -- <module.ts ...> [--tests a.test.ts,b.test.ts] [--isolate] [--all]
//   <module.ts>  a source file (src/... path); its tests are its sibling <name>.test.ts, every
//                sibling <name>-*.test.ts, and the extra files listed in EXTRA_TESTS below.
//   --tests      more test files for this run.
//   --isolate    run each mutant as a fresh `node scripts/test.mjs <files>` (Stryker's command
//                runner): slower (~3 s a mutant) but for tests the in-process runner cannot
//                host (hooks, before/after, tests that leave servers running).
//   --all        the modules in DEFAULT_MODULES (issue #11's route/cluster builders and the
//                proxy's decision modules).
//   --concurrency N  Stryker workers (default 1).
// Needs @stryker-mutator/core: from the project's node_modules, or STRYKER_HOME=<npm prefix
// where it is installed> (e.g. npm install --prefix /tmp/stryker @stryker-mutator/core@9.6.1).
// Prints a table (module, mutants, killed, survived, timeout, no coverage, errors, score) and
// each surviving mutant as file:line:column with its mutation; JSON and HTML reports go to
// tmp/mutation/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'tmp', 'mutation');

/** The modules issue #11 asks about. */
const DEFAULT_MODULES = [
  'src/xds/translate/route-action.ts',
  'src/xds/translate/route-match.ts',
  'src/xds/translate/cluster.ts',
  'src/proxy/policy/circuit-breaker.ts',
  'src/proxy/policy/outlier-detector.ts',
  'src/proxy/policy/load-balancer.ts',
  'src/proxy/policy/cluster-load-balancer.ts',
  'src/proxy/policy/lb-hash-policy.ts',
  'src/proxy/policy/string-matcher.ts',
  'src/proxy/connection-manager/path-normalization.ts',
];

/**
 * Tests that exercise a module but do not sit beside it under its name. Keep these narrow:
 * every listed file runs for every mutant.
 */
const EXTRA_TESTS = {
  'src/xds/translate/route-action.ts': ['src/xds/translate/routes.test.ts'],
  'src/xds/translate/route-match.ts': ['src/xds/translate/routes.test.ts'],
  'src/xds/translate/cluster.ts': ['src/xds/translate/cluster.test.ts'],
  'src/proxy/policy/load-balancer.ts': ['src/proxy/policy/cluster-load-balancer.test.ts'],
  'src/proxy/policy/cluster-load-balancer.ts': ['src/proxy/policy/load-balancer-settings.test.ts'],
  'src/proxy/policy/string-matcher.ts': ['src/proxy/connection-manager/route-table.test.ts'],
  'src/proxy/connection-manager/path-normalization.ts': ['src/proxy/connection-manager/path-routing.test.ts'],
  'src/proxy/policy/retry-policy.ts': ['src/proxy/router/retry.test.ts', 'src/proxy/router/retry-conditions.test.ts'],
  'src/proxy/router/retry.ts': ['src/proxy/router/upstream-path.test.ts'],
  'src/proxy/router/forward.ts': [
    'src/proxy/router/upstream-path.test.ts',
    'src/proxy/router/retry-conditions.test.ts',
    'src/proxy/router/retry-timeout.test.ts',
    'src/proxy/connection-manager/stream-idle-timeout.test.ts',
    'src/proxy/connection-manager/stream-release.test.ts',
    'src/proxy/connection-manager/routing.test.ts',
  ],
  'src/proxy/router/hash-policy.ts': ['src/proxy/router/upstream-path.test.ts'],
  'src/proxy/connection-manager/route-table.ts': [
    'src/proxy/connection-manager/routing.test.ts',
    'src/proxy/connection-manager/path-routing.test.ts',
  ],
};

function usage(code) {
  console.error(
    'usage: npm run mutate -- <src/module.ts ...> [--tests a.test.ts,...] [--isolate] [--all] [--concurrency N]',
  );
  process.exit(code);
}

const args = process.argv.slice(2);
const modules = [];
const extra = [];
let isolate = false;
let concurrency = 1;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--all') modules.push(...DEFAULT_MODULES);
  else if (a === '--isolate') isolate = true;
  else if (a === '--tests') extra.push(...(args[++i] ?? usage(2)).split(',').filter(Boolean));
  else if (a === '--concurrency') concurrency = Number(args[++i] ?? usage(2));
  else if (a === '-h' || a === '--help') usage(0);
  else if (a.startsWith('-')) usage(2);
  else modules.push(path.relative(ROOT, path.resolve(a)));
}
if (modules.length === 0) usage(2);

function testsFor(module) {
  const dir = path.dirname(module);
  const base = path.basename(module, '.ts');
  const own = readdirSync(path.join(ROOT, dir))
    .filter((f) => f === `${base}.test.ts` || (f.startsWith(`${base}-`) && f.endsWith('.test.ts')))
    .map((f) => path.join(dir, f));
  const all = [...new Set([...own, ...(EXTRA_TESTS[module] ?? []), ...extra])];
  for (const f of all) if (!existsSync(path.join(ROOT, f))) throw new Error(`${module}: no test file ${f}`);
  return all;
}

function strykerBin() {
  const from = process.env.STRYKER_HOME
    ? path.join(process.env.STRYKER_HOME, 'node_modules', 'x.js')
    : path.join(ROOT, 'x.js');
  try {
    const pkg = createRequire(from).resolve('@stryker-mutator/core/package.json');
    return path.join(path.dirname(pkg), 'bin', 'stryker.js');
  } catch {
    console.error(
      'mutate: @stryker-mutator/core not found; install it or set STRYKER_HOME to its npm prefix',
    );
    process.exit(2);
  }
}

function slug(module) {
  return module
    .replace(/^src\//, '')
    .replace(/\.ts$/, '')
    .replace(/[/\\]/g, '_');
}

function run(module) {
  const tests = testsFor(module);
  if (tests.length === 0) throw new Error(`${module}: no tests found; pass --tests`);
  const name = slug(module);
  const config = {
    mutate: [module],
    concurrency,
    checkers: [],
    tempDirName: 'tmp/stryker',
    // The sandbox needs the sources and tests only (tmp/ holds earlier reports).
    ignorePatterns: ['/tmp', '/dist', '/build', '/bench/out', '/native/build'],
    cleanTempDir: true,
    reporters: ['clear-text', 'json', 'html'],
    clearTextReporter: {
      allowColor: false,
      reportTests: false,
      reportScoreTable: true,
      reportMutants: false,
    },
    jsonReporter: { fileName: path.join('tmp', 'mutation', `${name}.json`) },
    htmlReporter: { fileName: path.join('tmp', 'mutation', `${name}.html`) },
    timeoutMS: 5000,
    warnings: { unknownOptions: false },
    ...(isolate
      ? {
          testRunner: 'command',
          coverageAnalysis: 'off',
          commandRunner: { command: `node scripts/test.mjs ${tests.join(' ')}` },
        }
      : {
          testRunner: 'node-test',
          coverageAnalysis: 'perTest',
          plugins: [path.join(ROOT, 'scripts', 'mutation', 'node-test-runner.mjs')],
          nodeTest: { files: tests },
        }),
  };
  mkdirSync(OUT, { recursive: true });
  const configFile = path.join(OUT, `${name}.stryker.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  console.log(`\n== ${module}: tests ${tests.join(' ')}${isolate ? ' (isolated)' : ''}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [strykerBin(), 'run', configFile], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`mutate: stryker failed for ${module} (exit ${r.status})`);
    return { module, failed: true };
  }
  const report = JSON.parse(readFileSync(path.join(OUT, `${name}.json`), 'utf8'));
  const file = report.files[module] ?? Object.values(report.files)[0];
  const count = (s) => file.mutants.filter((m) => m.status === s).length;
  const lines = file.source.split('\n');
  const survivors = file.mutants
    .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
    .sort(
      (a, b) =>
        a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column,
    )
    .map((m) => ({ m, original: original(lines, m.location) }));
  return {
    module,
    mutants: file.mutants.length,
    killed: count('Killed'),
    survived: count('Survived'),
    timeout: count('Timeout'),
    noCoverage: count('NoCoverage'),
    errors: count('RuntimeError') + count('CompileError'),
    seconds: Math.round((Date.now() - started) / 1000),
    survivors,
  };
}

function original(lines, loc) {
  const { start, end } = loc;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  return [
    lines[start.line - 1].slice(start.column - 1),
    '…',
    lines[end.line - 1].slice(0, end.column - 1),
  ].join(' ');
}

function score(r) {
  // Stryker's mutation score: killed and timed-out mutants over all valid ones.
  const valid = r.killed + r.timeout + r.survived + r.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * (r.killed + r.timeout)) / valid).toFixed(1)}%`;
}

function short(s, n = 70) {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

const results = modules.map(run);
console.log('\nSurviving mutants (Survived, and NoCoverage: no listed test reaches the code):');
for (const r of results) {
  if (r.failed) continue;
  for (const { m, original: o } of r.survivors) {
    const tag = m.status === 'NoCoverage' ? ' [no coverage]' : '';
    console.log(
      `${r.module}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}${tag}: ${short(o)} -> ${short(m.replacement ?? '')}`,
    );
  }
}
const header = ['module', 'mutants', 'killed', 'survived', 'timeout', 'no cov', 'errors', 'score', 'time'];
const rows = results.map((r) =>
  r.failed
    ? [r.module, 'FAILED', '', '', '', '', '', '', '']
    : [
        r.module,
        r.mutants,
        r.killed,
        r.survived,
        r.timeout,
        r.noCoverage,
        r.errors,
        score(r),
        `${r.seconds}s`,
      ].map(String),
);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(
  `\n${line(header)}\n| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`,
);
for (const row of rows) console.log(line(row));
process.exit(results.some((r) => r.failed) ? 1 : 0);
