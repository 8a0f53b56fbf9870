/**
 * `trellis analyze DIR` checks the files the control plane's directory store loads, no more and
 * no fewer (issue #11): both read a directory through config/config-files.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../../api/parse.js';
import { DirectoryConfigStore } from '../../config/directory-store.js';
import type { CommandIo } from '../command.js';
import { command } from './analyze.js';

/** A DestinationRule whose deprecated field draws a warning: every file shows up in the output. */
const rule = (name: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: default }
spec:
  host: ${name}
  trafficPolicy: { outlierDetection: { consecutiveErrors: 5 } }
`;

test('analyze DIR and the directory store see the same files: case, hidden, unreadable, subdirectories', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-analyze-store-'));
  const root = process.getuid?.() === 0;
  try {
    await mkdir(path.join(dir, 'team-a'));
    await mkdir(path.join(dir, '.trellis-state'));
    await writeFile(path.join(dir, 'lower.yaml'), rule('lower'));
    await writeFile(path.join(dir, 'UPPER.YAML'), rule('upper'));
    await writeFile(path.join(dir, 'mixed.Yml'), rule('mixed'));
    await writeFile(path.join(dir, 'team-a', 'nested.JSON'), JSON.stringify(parseYamlRule('nested')));
    await writeFile(path.join(dir, '.hidden.yaml'), 'broken: [');
    await writeFile(path.join(dir, '.trellis-state', 'x.yaml'), 'broken: [');
    await writeFile(path.join(dir, 'README.md'), '# not config');
    await symlink(path.join(dir, 'moved-away.yaml'), path.join(dir, 'dangling.yaml'));
    if (!root) await writeFile(path.join(dir, 'locked.yaml'), rule('locked'), { mode: 0 });

    let out = '';
    const io: CommandIo = { stdout: (t) => void (out += t), stderr: () => undefined, env: {}, cwd: dir };
    assert.equal(await command.run(['.'], io), 1, out);
    const analyzed = new Set(
      out
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('Error:'))
        .map((l) => l.split(':')[0] ?? ''),
    );

    const store = new DirectoryConfigStore(dir, { parse: parseAndValidate, rescanMs: 0 });
    await store.start();
    let loaded: Set<string>;
    try {
      loaded = new Set([
        ...store
          .list('DestinationRule')
          .map((r) => store.sourceFile(r.kind, r.metadata.namespace, r.metadata.name) ?? '?'),
        ...store.errors().map((e) => ('file' in e.source ? path.resolve(e.source.file) : '?')),
      ]);
    } finally {
      store.close();
    }
    const expected = [
      'UPPER.YAML',
      'dangling.yaml',
      ...(root ? [] : ['locked.yaml']),
      'lower.yaml',
      'mixed.Yml',
      path.join('team-a', 'nested.JSON'),
    ];
    assert.deepEqual([...analyzed].sort(), expected, out);
    assert.deepEqual([...loaded].map((f) => path.relative(dir, f)).sort(), expected);
    assert.match(
      out,
      /^dangling\.yaml: no such file or directory$/m,
      'an unreadable file is an error with its path',
    );
  } finally {
    await chmod(path.join(dir, 'locked.yaml'), 0o644).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

function parseYamlRule(name: string): object {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: 'default' },
    spec: { host: name, trafficPolicy: { outlierDetection: { consecutiveErrors: 5 } } },
  };
}
