/**
 * `trellis up` as a person meets it with their own apps (a tiny mesh outside the repository,
 * helpers/tiny-mesh.ts): what the summary says, how exits are told apart, `--watch`,
 * `trellis apply`/`delete` on the running mesh, an app that never listens, a command that does
 * not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually } from '../../src/core/testing/eventually.js';
import { runTrellis } from '../integration/helpers/process.js';
import { isAlive, tinyMesh } from './helpers/tiny-mesh.js';

const START = { timeoutMs: 45_000, intervalMs: 100 };

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text() };
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

test('a running tiny mesh: summary, exits, apply/delete, --watch', { timeout: 150_000 }, async (t) => {
  const mesh = await tinyMesh();
  const up = mesh.start(['--watch']);
  t.after(async () => {
    await up.stop('SIGKILL');
    await mesh.remove();
  });
  const context = () => `\nup output (tail):\n${(up.stdout() + up.stderr()).slice(-3000)}`;
  await up.waitForOutput(/Press Ctrl-C to stop/, START.timeoutMs);
  const out = up.stdout();
  const gateway = /gateway: +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
  const controlPlane = /control plane: +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';

  await t.test("the summary shows the gateway's real routes and each proxy's short name and xDS id", () => {
    assert.match(out, /\n {4}routes: +\* \/web\* \/hello\n/);
    assert.doesNotMatch(out, /productpage/);
    assert.match(
      out,
      /\n {4}web-v1 +sidecar~127\.0\.0\.1~web-v1\.default~default\.svc\.cluster\.local +http:\/\/127\.0\.0\.1:\d+ +spiffe:\/\/cluster\.local\/ns\/default\/sa\/web\n/,
    );
    assert.match(
      out,
      /\n {4}tiny-gateway +router~127\.0\.0\.1~tiny-gateway\.default~default\.svc\.cluster\.local +http:/,
    );
  });

  await t.test('a TypeScript app in a directory without tsx runs (tsx lent by trellis)', async () => {
    const r = await get(`${gateway}/hello`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'web-v1 hello /hello');
  });

  await t.test('a clean exit is "exited (code 0)", a failing one "crashed (code 3)"', async () => {
    for (const [code, said] of [
      [0, /web-v1 +\.\.\. exited \(code 0\); restarting in \d+\.\ds\n/],
      [3, /web-v1 +\.\.\. crashed \(code 3\); restarting in \d+\.\ds\n/],
    ] as const) {
      // The previous round's restart may still be starting: wait for its pid file.
      const app = await eventually(async () => (await mesh.app('web-v1')) ?? false, {
        what: 'web-v1 running',
        timeoutMs: 10_000,
        context,
      });
      await get(`http://127.0.0.1:${app.port}/exit?code=${code}`);
      await up.waitForOutput(said, 10_000);
      await eventually(async () => (await mesh.app('web-v1'))?.pid !== app.pid, {
        what: 'web-v1 restarted',
        timeoutMs: 20_000,
        context,
      });
    }
    assert.doesNotMatch(up.stdout(), /crashed \(code 0\)|exited with code 0/);
  });

  await t.test('--watch: saving the app restarts it with the new code', async () => {
    const before = await mesh.app('web-v1');
    const source = path.join(mesh.dir, 'web.ts');
    await writeFile(source, (await readFile(source, 'utf8')).replace("'hello'", "'bonjour'"));
    await up.waitForOutput(/web-v1 +\.\.\. web\.ts changed; restarting\n/, 10_000);
    await eventually(async () => (await get(`${gateway}/hello`)).text === 'web-v1 bonjour /hello', {
      what: 'the new code served',
      timeoutMs: 30_000,
      context,
    });
    assert.ok(before && !isAlive(before.pid), 'the old run was stopped');
    assert.doesNotMatch(
      up.stdout(),
      /web-v1 +\.\.\. (crashed|exited) \(signal SIGTERM\)/,
      'a restart is not a crash',
    );
  });

  await t.test(
    'trellis apply stores a resource as a file in the config directory; get -o wide names it; delete removes it',
    async () => {
      const file = path.join(mesh.dir, 'extra.yaml');
      await writeFile(
        file,
        [
          'apiVersion: networking.istio.io/v1',
          'kind: VirtualService',
          'metadata: { name: web-extra }',
          'spec:',
          "  hosts: ['*']",
          '  gateways: [tiny-gateway]',
          '  http: [{ match: [{ uri: { prefix: /extra } }], route: [{ destination: { host: web } }] }]',
          '',
        ].join('\n'),
      );
      const cp = ['--control-plane', controlPlane];
      const applied = await runTrellis(['apply', '-f', file, ...cp]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /virtualservice\.networking\.istio\.io\/web-extra created/);
      const stored = path.join(mesh.configDir, 'applied', 'virtualservice.default.web-extra.yaml');
      assert.match(await readFile(stored, 'utf8'), /name: web-extra/);
      await eventually(async () => /^web-v1 \w+ \/extra$/.test((await get(`${gateway}/extra`)).text), {
        what: 'the applied route served',
        timeoutMs: 20_000,
        context,
      });
      const wide = await runTrellis(['get', 'vs', '-o', 'wide', ...cp]);
      assert.equal(wide.code, 0, wide.stderr);
      assert.match(wide.stdout, /web-extra .*applied\/virtualservice\.default\.web-extra\.yaml/);
      assert.match(wide.stdout, /\nweb .*config\/web\.yaml/);
      const gw = await runTrellis(['get', 'gw', '-o', 'wide', ...cp]);
      assert.match(gw.stdout, /tiny-gateway .*mesh\.yaml \(made by trellis up\)/);

      // What `up` makes from mesh.yaml is not apply's to change: it would never be served.
      await writeFile(
        path.join(mesh.dir, 'gw.yaml'),
        'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: tiny-gateway }\nspec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }\n',
      );
      const refused = await runTrellis(['apply', '-f', path.join(mesh.dir, 'gw.yaml'), ...cp]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /Gateway default\/tiny-gateway comes from .*mesh\.yaml \(made by trellis up\)/,
      );
      assert.equal(
        await exists(path.join(mesh.configDir, 'applied', 'gateway.default.tiny-gateway.yaml')),
        false,
      );

      const deleted = await runTrellis(['delete', 'vs', 'web-extra', ...cp]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(await exists(stored), false, 'the applied file is removed');
      await eventually(async () => (await get(`${gateway}/extra`)).status === 404, {
        what: 'the route gone',
        timeoutMs: 20_000,
        context,
      });
      const own = await runTrellis(['delete', 'vs', 'web', ...cp]);
      assert.equal(own.code, 1);
      assert.match(own.stderr, /web is defined in .*config\/web\.yaml; edit/);
      // Files the app writes (out/web-v1.json) and the YAML written beside it are not its code:
      // the one restart --watch made was for web.ts.
      assert.equal(up.stdout().match(/changed; restarting/g)?.length, 1, up.stdout());
    },
  );

  const code = await up.stop('SIGINT');
  assert.equal(code, 0, up.stderr());
});

test(
  'an app that never listens fails up with what it printed; the other apps are stopped',
  { timeout: 90_000 },
  async (t) => {
    const mesh = await tinyMesh([
      {
        name: 'mute-v1',
        service: 'mute',
        command: ['node', '-e', 'console.log("loading model..."); setInterval(() => {}, 1000)'],
      },
    ]);
    t.after(() => mesh.remove());
    const up = mesh.start(['--ready-timeout', '2s']);
    const code = await up.exited;
    assert.equal(code, 1, up.stdout());
    assert.match(
      up.stderr(),
      /trellis up: mute-v1 did not listen on \d+ \(PORT; service port 9080\) within 2 s; it printed:\n {4}loading model\.\.\.\n {2}Make it listen on \$PORT \(and \$BIND_ADDRESS\), or give it longer with --ready-timeout\./,
    );
    const web = await mesh.app('web-v1');
    if (web) assert.equal(isAlive(web.pid), false, 'web-v1 was stopped');
  },
);

test('a command that does not exist is said once and up exits 1', { timeout: 60_000 }, async (t) => {
  const mesh = await tinyMesh([{ name: 'typo-v1', service: 'typo', command: ['nodex', 'app.js'] }]);
  t.after(() => mesh.remove());
  const up = mesh.start();
  const code = await up.exited;
  assert.equal(code, 1);
  const all = up.stdout() + up.stderr();
  assert.equal(all.match(/command not found: nodex/g)?.length, 2, all);
  assert.match(
    up.stdout(),
    /typo-v1 +\.\.\. command not found: nodex \(not in PATH [^)]*\)\n {2}fix its command in .*mesh\.yaml, then run trellis up again\n/,
  );
  assert.match(up.stderr(), /^trellis up: typo-v1 command not found: nodex/m);
  assert.doesNotMatch(all, /restarting in/);
  // The other workload, still starting when typo-v1 failed, did not start its app after the stop.
  const web = await mesh.app('web-v1');
  if (web) assert.equal(isAlive(web.pid), false, 'web-v1 was stopped');
});

test(
  'an app that keeps crashing at start is given up with its last output, and up exits 1',
  { timeout: 90_000 },
  async (t) => {
    const mesh = await tinyMesh([
      {
        name: 'crasher-v1',
        service: 'crasher',
        command: ['node', '-e', 'console.error("Error: cannot connect to the database"); process.exit(1)'],
      },
    ]);
    t.after(() => mesh.remove());
    const up = mesh.start();
    const code = await up.exited;
    assert.equal(code, 1, up.stdout());
    const restarts =
      up.stdout().match(/crasher-v1 +\.\.\. crashed \(code 1\); restarting in \d+\.\ds\n/g) ?? [];
    assert.equal(restarts.length, 5, up.stdout());
    assert.match(
      up.stdout(),
      /crasher-v1 +\.\.\. crashed \(code 1\); exited 6 times within 60s; not restarting it; it last printed:\n {4}Error: cannot connect to the database\n {2}fix it and run trellis up again/,
    );
    assert.match(up.stderr(), /^trellis up: crasher-v1 crashed \(code 1\); exited 6 times within 60s/m);
  },
);
