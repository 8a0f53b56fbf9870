import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nodeResolution, withTrellisLoaders, type LoaderResolution } from './node-loader.js';

const TSX = '/opt/trellis/node_modules/tsx/dist/loader.mjs';
const fake = (own: boolean): LoaderResolution => ({
  resolvesFrom: () => own,
  trellisFile: (spec) => (spec === 'tsx' ? TSX : spec === 'tsx/cjs' ? '/opt/trellis/tsx/cjs.cjs' : undefined),
});

test("node's loader flags naming tsx get Trellis's tsx when the app's directory has none", () => {
  const url = 'file:///opt/trellis/node_modules/tsx/dist/loader.mjs';
  const table: [string[], string[]][] = [
    [
      ['node', '--import', 'tsx', 'services/x.ts'],
      ['node', '--import', url, 'services/x.ts'],
    ],
    [
      ['node', '--import=tsx', 'x.ts'],
      ['node', `--import=${url}`, 'x.ts'],
    ],
    [
      ['/usr/bin/node', '--enable-source-maps', '--loader', 'tsx', 'x.ts'],
      ['/usr/bin/node', '--enable-source-maps', '--loader', url, 'x.ts'],
    ],
    // --require takes a path, not a URL.
    [
      ['node', '-r', 'tsx/cjs', 'x.ts'],
      ['node', '-r', '/opt/trellis/tsx/cjs.cjs', 'x.ts'],
    ],
    // The app's own arguments are its own, even when they look like node's flags.
    [
      ['node', 'x.js', '--import', 'tsx'],
      ['node', 'x.js', '--import', 'tsx'],
    ],
    // Other loaders, other programs: untouched.
    [
      ['node', '--import', 'ts-node/esm', 'x.ts'],
      ['node', '--import', 'ts-node/esm', 'x.ts'],
    ],
    [
      ['python3', '--import', 'tsx'],
      ['python3', '--import', 'tsx'],
    ],
    [
      ['node', '--import'],
      ['node', '--import'],
    ],
  ];
  for (const [command, expected] of table)
    assert.deepEqual(withTrellisLoaders(command, '/somewhere', fake(false)), expected, command.join(' '));
});

test('a directory with its own tsx keeps it', () => {
  const command = ['node', '--import', 'tsx', 'x.ts'];
  assert.deepEqual(withTrellisLoaders(command, '/somewhere', fake(true)), command);
});

test('the real resolution: the repository resolves tsx, a temporary directory does not', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-loader-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(nodeResolution.resolvesFrom('tsx', process.cwd()), true);
  assert.equal(nodeResolution.resolvesFrom('tsx', dir), false);
  const [, , lent] = withTrellisLoaders(['node', '--import', 'tsx', 'x.ts'], dir);
  assert.match(lent ?? '', /^file:\/\/.*\/tsx\/dist\/loader\.mjs$/);
});
