/**
 * No value import cycles in src/: a module that needs a value from one that needs a value from
 * it depends on evaluation order (the HTTP/1.1 client and the upstream request once did).
 * Type-only imports (`import type`, or every name marked `type`) are erased and do not count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** The relative modules `file` imports values from (re-exports included). */
export function valueImports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const add = (spec: ts.Expression) => {
    if (!ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    out.push(path.resolve(path.dirname(file), spec.text.replace(/\.js$/, '.ts')));
  };
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) add(st.moduleSpecifier);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      const c = st.exportClause;
      if (c && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly))
        continue;
      add(st.moduleSpecifier);
    }
  }
  return out;
}

export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

test('the checker sees a value cycle and ignores type-only imports', () => {
  const a = path.join(SRC, 'a.ts');
  const b = path.join(SRC, 'b.ts');
  const graph = new Map([
    [a, valueImports(a, "import { B } from './b.js';")],
    [b, valueImports(b, "import { A } from './a.js';")],
  ]);
  assert.equal(findCycles(graph).length, 1);
  const typeOnly = new Map([
    [a, valueImports(a, "import { B } from './b.js';")],
    [
      b,
      valueImports(
        b,
        "import type { A } from './a.js';\nimport { type A2 } from './a.js';\nexport type { A3 } from './a.js';",
      ),
    ],
  ]);
  assert.deepEqual(findCycles(typeOnly), []);
});

test('src/ has no value import cycles', () => {
  const graph = new Map<string, string[]>();
  for (const f of sourceFiles(SRC)) graph.set(f, valueImports(f, readFileSync(f, 'utf8')));
  const cycles = findCycles(graph).map((c) => c.map((f) => path.relative(SRC, f)).join(' -> '));
  assert.deepEqual(cycles, []);
});
