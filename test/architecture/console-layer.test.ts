/**
 * The console is browser code: it talks to the control plane over HTTP only. From the server's
 * layers it may import types (the service graph's JSON), never values, and nothing from Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const CONSOLE = path.resolve(import.meta.dirname, '../../src/console');

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Every import of `file` that leaves src/console without being type-only, or reaches Node. */
export function forbiddenImports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const bad: string[] = [];
  for (const st of sf.statements) {
    if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || !st.moduleSpecifier) continue;
    const spec = (st.moduleSpecifier as ts.StringLiteral).text;
    if (spec.startsWith('node:') || ['fs', 'path', 'http', 'net', 'crypto'].includes(spec)) {
      bad.push(spec);
      continue;
    }
    if (!spec.startsWith('.')) continue; // packages bundled for the browser (cytoscape)
    const target = path.resolve(path.dirname(file), spec);
    if (target.startsWith(CONSOLE + path.sep)) continue;
    const typeOnly = ts.isImportDeclaration(st)
      ? (st.importClause?.isTypeOnly ?? false) ||
        (st.importClause?.name === undefined &&
          st.importClause?.namedBindings !== undefined &&
          ts.isNamedImports(st.importClause.namedBindings) &&
          st.importClause.namedBindings.elements.every((e) => e.isTypeOnly))
      : st.isTypeOnly;
    if (!typeOnly) bad.push(spec);
  }
  return bad;
}

test('src/console imports only types from the server and nothing from Node', () => {
  const found = files(CONSOLE).flatMap((f) =>
    forbiddenImports(f, readFileSync(f, 'utf8')).map((s) => `${path.relative(CONSOLE, f)}: ${s}`),
  );
  assert.deepEqual(found, []);
});

test('the check itself catches value imports and Node modules', () => {
  const f = path.join(CONSOLE, 'pages', 'x.ts');
  assert.deepEqual(
    forbiddenImports(
      f,
      [
        "import type { ServiceGraph } from '../../controlplane/graph/types.js';",
        "import { type GraphNode } from '../../controlplane/graph/types.js';",
        "import { h } from '../dom.js';",
        "import cytoscape from 'cytoscape';",
        "import { ControlPlane } from '../../controlplane/control-plane.js';",
        "import { readFile } from 'node:fs/promises';",
        "export { x } from '../../core/errors.js';",
      ].join('\n'),
    ),
    ['../../controlplane/control-plane.js', 'node:fs/promises', '../../core/errors.js'],
  );
});
