// A Stryker test-runner plugin that runs the project's node:test files in one long-lived
// process: the files are imported once (through tsx, with `node:test` swapped for
// node-test-shim.mjs) and their tests are run again for each mutant, switching the mutant on
// through Stryker's instrumentation global. That takes a mutant from ~3 s (a fresh
// `node --test` per mutant, Stryker's command runner) to milliseconds for pure modules.
// Mutants in code that runs at import time ("static" mutants) are handled by Stryker: this
// runner reports it cannot reload modules, so Stryker starts a fresh worker for each of them.
// The test files come from the `nodeTest.files` option (scripts/mutate.mjs writes it).
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// Values of Stryker's plugin API enums, written out so this file needs no import from it.
const PluginKind = { TestRunner: 'TestRunner' };
const DryRunStatus = { Complete: 'complete', Error: 'error' };
const MutantRunStatus = { Killed: 'killed', Survived: 'survived', Timeout: 'timeout', Error: 'error' };
const TestStatus = { Success: 0, Failed: 1, Skipped: 2 };

function ns() {
  return (globalThis.__stryker__ ??= {});
}

function message(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

class NodeTestRunner {
  static inject = ['logger', 'options'];

  constructor(logger, options) {
    this.log = logger;
    this.files = options.nodeTest?.files ?? [];
    this.loaded = false;
    this.stray = undefined;
  }

  capabilities() {
    return { reloadEnvironment: false };
  }

  async init() {
    if (this.files.length === 0) throw new Error('node-test runner: no test files (nodeTest.files)');
    // Errors thrown outside a test's promise chain (timers, socket handlers) count against
    // the test running at that moment.
    process.on('uncaughtException', (err) => {
      this.stray ??= err;
    });
    process.on('unhandledRejection', (err) => {
      this.stray ??= err;
    });
  }

  async load() {
    if (this.loaded) return;
    this.loaded = true;
    await import('tsx');
    register('./hooks.mjs', import.meta.url);
    const state = (globalThis.__trellisMutationTests ??= { tests: [], prefix: [], file: '' });
    for (const file of this.files) {
      state.file = file;
      await import(pathToFileURL(path.resolve(process.cwd(), file)).href);
    }
    const seen = new Map();
    this.tests = state.tests.map((t) => {
      const base = `${t.file} > ${t.name}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return { ...t, id: n === 1 ? base : `${base} #${n}` };
    });
  }

  async runTests({ filter, bail, perTest }) {
    const { runTestFunction } = await import('./node-test-shim.mjs');
    const wanted = filter === undefined ? undefined : new Set(filter);
    const results = [];
    for (const t of this.tests) {
      if (wanted !== undefined && !wanted.has(t.id)) continue;
      const base = { id: t.id, name: t.name, fileName: t.file };
      if (t.skip) {
        results.push({ ...base, status: TestStatus.Skipped, timeSpentMs: 0 });
        continue;
      }
      if (perTest) ns().currentTestId = t.id;
      this.stray = undefined;
      const start = performance.now();
      let failure;
      try {
        await runTestFunction(t.fn, t.name);
        // Let errors raised by the test's leftovers (timers, I/O) surface before judging it.
        await new Promise((resolve) => setImmediate(resolve));
      } catch (err) {
        failure = err;
      }
      failure ??= this.stray;
      if (perTest) ns().currentTestId = undefined;
      const timeSpentMs = Math.round(performance.now() - start);
      if (failure === undefined) {
        results.push({ ...base, status: TestStatus.Success, timeSpentMs });
      } else {
        results.push({ ...base, status: TestStatus.Failed, failureMessage: message(failure), timeSpentMs });
        if (bail) break;
      }
    }
    return results;
  }

  async dryRun(options) {
    try {
      const perTest = options.coverageAnalysis === 'perTest';
      if (options.coverageAnalysis !== 'off') ns().mutantCoverage = { static: {}, perTest: {} };
      await this.load();
      const tests = await this.runTests({ bail: false, perTest });
      const result = { status: DryRunStatus.Complete, tests };
      if (options.coverageAnalysis !== 'off') result.mutantCoverage = ns().mutantCoverage;
      return result;
    } catch (err) {
      return { status: DryRunStatus.Error, errorMessage: `${message(err)}\n${err?.stack ?? ''}` };
    }
  }

  async mutantRun(options) {
    const g = ns();
    try {
      // A static mutant must be on while the modules load; Stryker gives it a fresh worker.
      if (options.mutantActivation === 'static') g.activeMutant = options.activeMutant.id;
      try {
        await this.load();
      } catch (err) {
        // A test file that fails while it loads (setup at its top level) fails its tests, as
        // `node --test` would report it.
        if (options.mutantActivation !== 'static') throw err;
        return {
          status: MutantRunStatus.Killed,
          killedBy: [],
          failureMessage: `loading the tests: ${message(err)}`,
          nrOfTests: 0,
        };
      }
      g.activeMutant = options.activeMutant.id;
      if (options.hitLimit !== undefined) {
        g.hitLimit = options.hitLimit;
        g.hitCount = 0;
      } else {
        g.hitLimit = undefined;
        g.hitCount = undefined;
      }
      const tests = await this.runTests({
        filter: options.testFilter,
        bail: !options.disableBail,
        perTest: false,
      });
      const hitLimitReached = g.hitLimit !== undefined && g.hitCount > g.hitLimit;
      g.activeMutant = undefined;
      g.hitCount = undefined;
      if (hitLimitReached)
        return { status: MutantRunStatus.Timeout, reason: `hit limit ${options.hitLimit} reached` };
      const failed = tests.filter((t) => t.status === TestStatus.Failed);
      if (failed.length > 0) {
        return {
          status: MutantRunStatus.Killed,
          killedBy: failed.map((t) => t.id),
          failureMessage: failed[0].failureMessage,
          nrOfTests: tests.length,
        };
      }
      return { status: MutantRunStatus.Survived, nrOfTests: tests.length };
    } catch (err) {
      g.activeMutant = undefined;
      return { status: MutantRunStatus.Error, errorMessage: message(err) };
    }
  }
}

export const strykerPlugins = [
  { kind: PluginKind.TestRunner, name: 'node-test', injectableClass: NodeTestRunner },
];
