/**
 * The console with the merged parts of issue #14, in a real browser on a running mesh: after
 * traffic through a real proxy, the graph page draws the measured graph (the control plane's
 * scrape of its proxies, /v1/graph) with each edge's rate, instead of the registry's map.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { eventually } from '../../../src/core/testing/eventually.js';
import { EDITOR_TOKEN, startConsoleMesh, type ConsoleMesh } from './helpers/console-mesh.js';
import { launch, logIn, openPage, skipReason } from './helpers/browser.js';

const skip = skipReason();
let mesh: ConsoleMesh;
let browser: Browser;

before(async () => {
  if (skip) return;
  mesh = await startConsoleMesh();
  browser = await launch();
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await mesh?.stop();
});

test(
  'after traffic the graph page shows the live edges with their rates',
  { skip, timeout: 90_000 },
  async () => {
    const { page, errors } = await openPage(browser);
    await logIn(page, mesh.consoleUrl, EDITOR_TOKEN);
    // Traffic keeps flowing while the control plane scrapes the proxy (every 5 s by default).
    let sending = true;
    const traffic = (async () => {
      while (sending) {
        assert.match(await mesh.callReviews(), /^reviews-v[12]$/);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const edge = await eventually(
        async () => {
          await page.goto(`${mesh.consoleUrl}#/graph`);
          await page.reload();
          await page.waitForSelector('#graph-source', { timeout: 5000 });
          const source = (await page.textContent('#graph-source')) ?? '';
          if (!/from scrape, rates over \d+s/.test(source)) return false;
          const li = page.locator('.graph-edges li[data-edge*="reviews"]').first();
          if ((await li.count()) === 0) return false;
          const rps = Number(await li.getAttribute('data-rps'));
          return rps > 0 ? { text: (await li.textContent()) ?? '', rps, source } : false;
        },
        { what: 'a measured edge to reviews on the graph page', timeoutMs: 45_000, intervalMs: 1000 },
      );
      assert.match(edge.text, /reviews.*: \d+\.\d\d rps, 0\.0% errors/);
      assert.match(edge.source, /\d+ nodes, [1-9]\d* edges from scrape/);
      assert.equal((await page.locator('#graph canvas').count()) > 0, true, 'cytoscape drew the graph');
    } finally {
      sending = false;
      await traffic;
    }
    assert.deepEqual(errors, []);
    await page.context().close();
  },
);
