/**
 * The console with the merged parts of issue #14, in a real browser on a running mesh: after
 * traffic through a real proxy, the graph page draws the measured graph (the control plane's
 * scrape of its proxies, /v1/graph) with each edge's rate, instead of the registry's map; the
 * access-log switch on a service page writes a Telemetry and the workload's sidecar starts
 * logging, then stops again; a viewer explains a request from a service page (trellis
 * explain's API behind the console's token check).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { eventually } from '../../../src/core/testing/eventually.js';
import {
  EDITOR_TOKEN,
  REVIEWS,
  VIEWER_TOKEN,
  startConsoleMesh,
  type ConsoleMesh,
} from './helpers/console-mesh.js';
import { launch, logIn, openPage, skipReason } from './helpers/browser.js';

const skip = skipReason();
let mesh: ConsoleMesh;
/** The productpage sidecar's stdout access log, line by line. */
const logged: string[] = [];
const PRODUCTPAGE = 'productpage.default.svc.cluster.local';
let browser: Browser;

before(async () => {
  if (skip) return;
  mesh = await startConsoleMesh({ accessLog: (line) => logged.push(line) });
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

test(
  "the access-log switch turns one workload's sidecar log on live, and off again",
  { skip, timeout: 60_000 },
  async () => {
    const { page, errors } = await openPage(browser);
    /** Lines one request through the productpage sidecar adds to its access log. */
    const linesOfOneRequest = async (): Promise<string[]> => {
      const before = logged.length;
      assert.match(await mesh.callReviews(), /^reviews-v[12]$/);
      return logged.slice(before);
    };
    assert.deepEqual(await linesOfOneRequest(), [], 'no access log before the switch');
    await logIn(page, `${mesh.consoleUrl}#/services/default/${PRODUCTPAGE}`, EDITOR_TOKEN);
    const toggle = page.locator('.access-log input[name="access-log:productpage"]');
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), false);

    await toggle.check();
    const written = await eventually(
      () => mesh.mesh.store.get('Telemetry', 'default', 'productpage-console-access-log') ?? false,
      { what: 'the switch wrote a Telemetry', timeoutMs: 10_000 },
    );
    assert.deepEqual((written.spec as { selector?: unknown }).selector, {
      matchLabels: { app: 'productpage' },
    });
    assert.equal(written.metadata.annotations?.['trellis.io/edited-by'], 'alice');
    const lines = await eventually(
      async () => {
        const l = await linesOfOneRequest();
        return l.length > 0 ? l : false;
      },
      { what: 'the productpage sidecar logging', timeoutMs: 10_000 },
    );
    assert.ok(
      lines.some((l) => /GET \/reviews\/1 HTTP\/1\.1" 200/.test(l) && l.includes('reviews')),
      `an Envoy-format line for the request: ${JSON.stringify(lines)}`,
    );

    await page.reload();
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), true, 'the switch shows what is written');
    await toggle.uncheck();
    await eventually(
      () =>
        (
          mesh.mesh.store.get('Telemetry', 'default', 'productpage-console-access-log')?.spec as {
            accessLogging?: { disabled?: boolean }[];
          }
        )?.accessLogging?.[0]?.disabled === true,
      { what: 'the switch disabled the Telemetry', timeoutMs: 10_000 },
    );
    await eventually(async () => (await linesOfOneRequest()).length === 0, {
      what: 'the productpage sidecar quiet again',
      timeoutMs: 10_000,
    });
    for (let i = 0; i < 3; i++) assert.deepEqual(await linesOfOneRequest(), []);
    assert.deepEqual(errors, []);
    await page.context().close();
  },
);

test(
  "a viewer explains a request from the service page with trellis explain's API",
  { skip, timeout: 60_000 },
  async () => {
    const { page, errors } = await openPage(browser);
    await logIn(page, `${mesh.consoleUrl}#/services/default/${REVIEWS}`, VIEWER_TOKEN);
    await page.waitForSelector('#explain-form');
    assert.equal(
      await page.inputValue('#explain-form input[name=url]'),
      `http://${REVIEWS}:9080/`,
      'prefilled with the service',
    );
    await page.selectOption('#explain-form select[name=from]', { label: 'productpage-1.default' });
    await page.fill('#explain-form input[name=url]', 'http://reviews:9080/reviews/1');
    await page.click('#explain-form button[type=submit]');
    const answer = await eventually(
      async () => {
        const text = (await page.textContent('#explain-form .explain-result')) ?? '';
        return text.startsWith('{') ? text : false;
      },
      { what: 'the explanation shown', timeoutMs: 10_000 },
    );
    const explained = JSON.parse(answer) as {
      proxy: string;
      routes: { name?: string; matched: boolean }[];
      clusters: { name: string; endpoints: { health: string }[] }[];
      outcome: { result: string };
    };
    assert.match(explained.proxy, /^sidecar~10\.9\.0\.1~productpage-1\.default~/);
    assert.deepEqual(explained.routes.at(-1), { name: 'default', matched: true });
    assert.equal(explained.clusters[0]?.name, `outbound|9080||${REVIEWS}`);
    assert.deepEqual(
      explained.clusters[0]?.endpoints.map((e) => e.health),
      ['healthy', 'healthy'],
      'both reviews versions',
    );
    assert.equal(explained.outcome.result, 'succeed');

    // The console's route checks the token like every other: none is 401, one in the URL 400.
    const url = new URL('/console/api/explain', mesh.consoleUrl);
    url.search = new URLSearchParams({ from: 'productpage-1', url: 'http://reviews:9080/' }).toString();
    assert.equal((await fetch(url)).status, 401);
    url.searchParams.set('token', VIEWER_TOKEN);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).status, 400);
    assert.deepEqual(errors, []);
    await page.context().close();
  },
);
