/**
 * `trellis up --prometheus` starts Debian's prometheus scraping the mesh's proxies, prints its
 * URL, and stops it with the mesh (skipped with a reason when prometheus is not on PATH).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../src/core/testing/eventually.js';
import { findProgram } from '../../src/cli/up/command-lookup.js';
import { portOpen, tinyMesh } from './helpers/tiny-mesh.js';

const found = findProgram('prometheus', process.cwd(), process.env.PATH);

test(
  'up --prometheus prints the Prometheus URL, which scrapes every proxy, and stops it with the mesh',
  {
    timeout: 120_000,
    skip: found.found ? false : `prometheus is not on PATH (${found.reason}); scripts/setup.sh installs it`,
  },
  async (t) => {
    const mesh = await tinyMesh();
    const up = mesh.start(['--prometheus']);
    t.after(async () => {
      await up.stop('SIGKILL');
      await mesh.remove();
    });
    const m = await up.waitForOutput(/prometheus: +(http:\/\/127\.0\.0\.1:(\d+))/, 60_000);
    const url = m[1]!;
    const port = Number(m[2]);
    // Its targets are the mesh's proxies (the sidecar and the gateway), scraped and up.
    await eventually(
      async () => {
        const res = await fetch(`${url}/api/v1/targets`);
        const body = (await res.json()) as {
          data: { activeTargets: { health: string; scrapeUrl: string }[] };
        };
        const targets = body.data.activeTargets;
        return (
          targets.length === 2 &&
          targets.every((x) => x.health === 'up' && x.scrapeUrl.endsWith('/stats/prometheus'))
        );
      },
      { what: 'two healthy proxy targets', timeoutMs: 30_000 },
    );
    const code = await up.stop('SIGINT', 30_000);
    assert.equal(code, 0, up.stderr());
    assert.equal(await portOpen(port), false, 'prometheus stopped with the mesh');
  },
);
