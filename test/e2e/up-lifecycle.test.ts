/**
 * `trellis up` ends cleanly whatever ends it, and never leaves its apps running: a closed output
 * pipe (`up | head -1`) then Ctrl-C, SIGTERM, SIGHUP, `kill -9`. Each run is a tiny mesh of one
 * app (helpers/tiny-mesh.ts) outside the repository; the app says its pid and port in a file,
 * so the checks do not depend on reading `up`'s output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../src/core/testing/eventually.js';
import { isAlive, portOpen, tinyMesh, type TinyMesh } from './helpers/tiny-mesh.js';

const START = { timeoutMs: 45_000, intervalMs: 100 };
// How long a stopping `up` may take before the harness kills it: its stop is a sequence of
// bounded steps (gateway, apps with --stop-grace 2, sidecars, control plane), slow on a busy machine.
const STOP_MS = 30_000;

async function appRunning(mesh: TinyMesh, name: string, notPid?: number) {
  return eventually(
    async () => {
      const app = await mesh.app(name);
      if (app === undefined || app.pid === notPid || !isAlive(app.pid)) return false;
      return app;
    },
    { what: `${name} listening`, ...START },
  );
}

async function assertGone(app: { pid: number; port: number }): Promise<void> {
  await eventually(() => assert.equal(isAlive(app.pid), false, `pid ${app.pid} still running`), {
    what: `app pid ${app.pid} gone`,
    timeoutMs: 10_000,
  });
  assert.equal(await portOpen(app.port), false, `port ${app.port} still accepts connections`);
}

test(
  'a closed stdout (up | head -1) does not crash up; Ctrl-C then stops every app and exits 0',
  { timeout: 90_000 },
  async (t) => {
    const mesh = await tinyMesh();
    const up = mesh.start();
    t.after(async () => {
      await up.stop('SIGKILL');
      await mesh.remove();
    });
    // As `head -1` does: read the first line, then close the pipe.
    await up.waitForOutput(/trellis up: mesh tiny/);
    up.child.stdout?.destroy();
    const first = await appRunning(mesh, 'web-v1');
    // Its crash makes `up` write (restarting...) into the closed pipe: EPIPE.
    process.kill(first.pid, 'SIGKILL');
    const second = await appRunning(mesh, 'web-v1', first.pid);
    assert.equal(up.child.exitCode, null, `up exited: ${up.stderr()}`);
    const code = await up.stop('SIGINT', STOP_MS);
    assert.equal(code, 0, up.stderr());
    assert.doesNotMatch(up.stderr(), /EPIPE|Error:| {4}at /, 'no stack trace');
    await assertGone(second);
  },
);

for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${signal} stops every app up started and exits 0`, { timeout: 90_000 }, async (t) => {
    const mesh = await tinyMesh();
    const up = mesh.start();
    t.after(async () => {
      await up.stop('SIGKILL');
      await mesh.remove();
    });
    await up.waitForOutput(/Press Ctrl-C to stop/, START.timeoutMs);
    const app = await appRunning(mesh, 'web-v1');
    const code = await up.stop(signal, STOP_MS);
    assert.equal(code, 0, up.stderr());
    assert.match(
      up.stdout(),
      new RegExp(`trellis up: ${signal}, stopping everything\\n[^]*trellis up: stopped`),
    );
    await assertGone(app);
  });
}

test('kill -9 of up: its apps die with it (hardening issue, still true)', { timeout: 90_000 }, async (t) => {
  const mesh = await tinyMesh();
  const up = mesh.start();
  t.after(async () => {
    await up.stop('SIGKILL');
    await mesh.remove();
  });
  await up.waitForOutput(/Press Ctrl-C to stop/, START.timeoutMs);
  const app = await appRunning(mesh, 'web-v1');
  await up.stop('SIGKILL');
  await assertGone(app);
});
