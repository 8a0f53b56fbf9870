/**
 * A control plane older than the check on ProxyConfig environment variables may still serve
 * NODE_OPTIONS or LD_PRELOAD: `trellis proxy --control-plane URL` drops them, says so, and its
 * worker processes run without them (the code NODE_OPTIONS names is never loaded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from '../../../src/proxy/testing/harness.js';
import { startMesh } from '../helpers/mesh.js';
import { startTrellis } from '../helpers/process.js';

async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    text
      .split('\0')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

test('trellis proxy drops environment variables an older control plane serves that would change how it runs', async (t) => {
  const mesh = await startMesh();
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-pc-env-'));
  const marker = path.join(dir, 'loaded');
  const evil = path.join(dir, 'evil.cjs');
  await writeFile(evil, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
  // What an older control plane answers: it did not refuse NODE_OPTIONS at apply.
  const old = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        concurrency: 2,
        environmentVariables: {
          NODE_OPTIONS: `--require ${evil}`,
          LD_PRELOAD: '/nonexistent.so',
          PC_OK: 'yes',
        },
        sources: ['shop/pc'],
        fingerprint: 'abcdefabcdef',
      }),
    );
  });
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
  const port = (old.address() as { port: number }).port;
  t.after(async () => {
    old.close();
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const proxy = startTrellis([
    'proxy',
    '--xds-address',
    `127.0.0.1:${mesh.xdsPort}`,
    '--control-plane',
    `http://127.0.0.1:${port}`,
    '--namespace',
    'shop',
    '--workload',
    'cart-v1',
    '--labels',
    'app=cart',
    '--admin-port',
    '0',
    '--outbound-port',
    '0',
    '--inbound-port',
    '0',
    '--drain-seconds',
    '1',
  ]);
  t.after(() => proxy.stop('SIGKILL'));
  await proxy.waitForOutput(
    /ProxyConfig environment variable ignored: NODE_OPTIONS: would change how the proxy process runs: Node\.js reads NODE_\*/,
  );
  await proxy.waitForOutput(
    /ProxyConfig environment variable ignored: LD_PRELOAD: would change how the proxy process runs/,
  );
  await proxy.waitForOutput(/ProxyConfig concurrency 2; environment PC_OK \(from shop\/pc\)/);
  const ready = await proxy.waitForOutput(/proxy ready: .* admin 127\.0\.0\.1:(\d+); 2 workers/, 20_000);
  const info = (await request(Number(ready[1]), { path: '/server_info' })).json<{
    workers: { pid: number }[];
  }>();
  assert.equal(info.workers.length, 2);
  for (const w of info.workers) {
    const env = await environOf(w.pid);
    assert.equal(env.PC_OK, 'yes');
    assert.equal(env.NODE_OPTIONS, undefined);
    assert.equal(env.LD_PRELOAD, undefined);
  }
  await assert.rejects(access(marker), 'the code NODE_OPTIONS named was never loaded');
});
