// Stand-in for `node:test` inside the mutation worker (see node-test-runner.mjs). Test files
// register their tests here instead of with Node's runner, so the worker can run the same
// tests once per mutant in one process. Covers what the project's unit tests use: test / it /
// describe / suite with optional options, subtests through the context, skip / todo, and
// after(). Anything else throws, which fails the dry run: run that module with --isolate.
import { mock as realMock } from 'node:test';

const state = (globalThis.__trellisMutationTests ??= { tests: [], prefix: [], file: '' });

function parse(name, options, fn) {
  if (typeof name === 'function') return { name: name.name || '<anonymous>', options: {}, fn: name };
  if (typeof options === 'function') return { name, options: {}, fn: options };
  return { name, options: options ?? {}, fn };
}

function unsupported(what) {
  return () => {
    throw new Error(`mutation worker: node:test ${what} is not supported in-process; use --isolate`);
  };
}

/** Runs one test function with a context; resolves when it and its subtests are done. */
export async function runTestFunction(fn, name) {
  const cleanups = [];
  const context = {
    name,
    signal: new AbortController().signal,
    mock: realMock,
    skip() {},
    todo() {},
    diagnostic() {},
    plan() {},
    after(f) {
      cleanups.push(f);
    },
    async test(subName, subOptions, subFn) {
      const p = parse(subName, subOptions, subFn);
      if (p.options.skip || p.options.todo || p.fn === undefined) return;
      await runTestFunction(p.fn, `${name} > ${p.name}`);
    },
    before: unsupported('t.before'),
    beforeEach: unsupported('t.beforeEach'),
    afterEach: unsupported('t.afterEach'),
  };
  try {
    if (fn.length >= 2) {
      await new Promise((resolve, reject) => {
        fn(context, (err) => (err ? reject(err) : resolve()));
      });
    } else {
      await fn(context);
    }
  } finally {
    for (const f of cleanups.reverse()) await f();
    realMock.restoreAll();
  }
}

export function test(name, options, fn) {
  const p = parse(name, options, fn);
  const full = [...state.prefix, p.name].join(' > ');
  const skip = Boolean(p.options.skip || p.options.todo || p.fn === undefined);
  state.tests.push({ file: state.file, name: full, fn: p.fn, skip });
  return Promise.resolve();
}
test.skip = (name, options, fn) =>
  test(name, { ...(typeof options === 'object' ? options : {}), skip: true }, fn);
test.todo = test.skip;
test.only = test;

export function describe(name, options, fn) {
  const p = parse(name, options, fn);
  if (p.options.skip || p.options.todo || p.fn === undefined) return Promise.resolve();
  state.prefix.push(p.name);
  try {
    const r = p.fn({ name: p.name });
    if (r && typeof r.then === 'function')
      throw new Error('mutation worker: async describe is not supported');
  } finally {
    state.prefix.pop();
  }
  return Promise.resolve();
}
describe.skip = () => Promise.resolve();
describe.todo = describe.skip;
describe.only = describe;

export const it = test;
export const suite = describe;
export const mock = realMock;
export const before = unsupported('before');
export const after = unsupported('after');
export const beforeEach = unsupported('beforeEach');
export const afterEach = unsupported('afterEach');
export const run = unsupported('run');
export default test;
