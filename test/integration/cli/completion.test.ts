/**
 * `trellis completion bash` as a shell uses it: the script sourced into a real bash, TAB
 * simulated through COMP_WORDS, proxy names asked of a real control plane by the installed
 * `trellis` command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { startMesh } from '../helpers/mesh.js';
import { REPO, runTrellis } from '../helpers/process.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { COMPLETION_COMMANDS, flagsOf } from '../../../src/cli/commands/completion.js';

/** Asynchronous: the control plane answering the script's `trellis` runs in this process. */
async function complete(script: string, words: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const r = await promisify(execFile)(
    'bash',
    [
      '-c',
      `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _trellis; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      script,
    ],
    {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, PATH: `${path.join(REPO, 'bin')}:${process.env.PATH ?? ''}`, ...env },
    },
  );
  return r.stdout.split('\n').filter(Boolean);
}

test('completion bash: commands, types, flags and connected proxy names', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-completion-'));
  const mesh = await startMesh();
  const client = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
  });
  try {
    const out = await runTrellis(['completion', 'bash']);
    assert.equal(out.code, 0, out.stderr);
    const script = path.join(dir, 'trellis.bash');
    await writeFile(script, out.stdout);

    assert.deepEqual(await complete(script, ['trellis', 'proxy-']), ['proxy-config', 'proxy-status']);
    assert.deepEqual(await complete(script, ['trellis', 'proxy-config', 'ro']), ['routes']);
    assert.deepEqual(await complete(script, ['trellis', 'proxy-config', 'clusters', 'x', '--su']), [
      '--subset',
    ]);
    assert.deepEqual(await complete(script, ['trellis', 'get', 'wo']), ['workloads', 'workloadentries']);
    await eventually(
      async () => ((await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as unknown[]).length === 1,
      'connected',
    );
    const env = { TRELLIS_CONTROL_PLANE: mesh.httpUrl };
    assert.deepEqual(await complete(script, ['trellis', 'proxy-status', 'prod'], env), [
      'productpage-v1',
      'productpage-v1.default',
    ]);
    assert.deepEqual(await complete(script, ['trellis', 'proxy-config', 'routes', 'productpage-v1.'], env), [
      'productpage-v1.default',
    ]);
    // A control plane that is down: no names, no noise.
    assert.deepEqual(
      await complete(script, ['trellis', 'tap', 'p'], { TRELLIS_CONTROL_PLANE: 'http://127.0.0.1:9' }),
      [],
    );

    const zsh = await runTrellis(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /^autoload -U \+X bashcompinit && bashcompinit\n/);
    const bad = await runTrellis(['completion', 'fish']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected bash or zsh, got "fish"/);
  } finally {
    client.close();
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("completion's command list is trellis --help's", async () => {
  const help = await runTrellis(['--help']);
  const names = [...help.stdout.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((m) => m[1]);
  assert.deepEqual(Object.keys(COMPLETION_COMMANDS).sort(), names.sort());
});

test('flagsOf: long and short flags named in a usage text, not words with dashes', () => {
  assert.deepEqual(
    flagsOf('Usage: x [--fqdn HOST] [-o table|json] proxy-config --admin-port N, e.g. -5 or a-b'),
    ['--admin-port', '--fqdn', '--help', '-o'],
  );
});
