/**
 * A copy of examples/bookinfo made outside the repository runs as is: its apps are TypeScript
 * started with `node --import tsx`, and the copy has no node_modules, so `up` lends them the
 * tsx Trellis runs on (src/cli/up/node-loader.ts). Before, every app failed at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO, startTrellis } from '../integration/helpers/process.js';

test(
  'a copy of examples/bookinfo outside the repository serves its product page',
  { timeout: 120_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-bookinfo-copy-'));
    await cp(path.join(REPO, 'examples/bookinfo'), dir, {
      recursive: true,
      filter: (src) => !src.includes('.trellis-state'),
    });
    const up = startTrellis(
      [
        'up',
        '.',
        '--gateway-port',
        '0',
        '--base-port',
        '0',
        '--xds-port',
        '0',
        '--http-port',
        '0',
        '--stop-grace',
        '2',
      ],
      { cwd: dir },
    );
    t.after(async () => {
      await up.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    const [, gateway] = await up.waitForOutput(/gateway: +(http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    assert.match(
      up.stdout(),
      /routes: +\* \/productpage \/static\* \/login \/logout \/api\/v1\/products\*\n/,
    );
    const res = await fetch(`${gateway}/productpage`, { signal: AbortSignal.timeout(15_000) });
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(html, /William Shakespeare/, 'details answered through the mesh');
    assert.match(html, /Reviews served by: reviews-v1/);
    assert.doesNotMatch(up.stdout(), /crashed|ERR_MODULE_NOT_FOUND/);
    assert.equal(await up.stop('SIGINT'), 0, up.stderr());
  },
);
