#!/usr/bin/env node
/**
 * `npm run screenshots`: PNGs of the console's main pages in docs/screenshots/, taken with
 * Debian's chromium on the bookinfo-like mesh the console's browser tests run
 * (test/e2e/console/helpers), after some traffic and one canary edit so the pages show state.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'docs', 'screenshots');
const helpers = (f) => tsImport(`../test/e2e/console/helpers/${f}`, import.meta.url);
const { startConsoleMesh, EDITOR_TOKEN, REVIEWS } = await helpers('console-mesh.ts');
const { launch, openPage, logIn, skipReason } = await helpers('browser.ts');

const why = skipReason();
if (why) {
  console.error(`screenshots: ${why}`);
  process.exit(1);
}
await mkdir(out, { recursive: true });
const mesh = await startConsoleMesh();
const browser = await launch();
try {
  for (let i = 0; i < 10; i++) await mesh.callReviews();
  const { page, errors } = await openPage(browser);
  await page.goto(mesh.consoleUrl);
  await page.waitForSelector('#token');
  await page.screenshot({ path: path.join(out, 'login.png') });
  await logIn(page, mesh.consoleUrl, EDITOR_TOKEN);
  // Traffic until the control plane's scrape of the proxy (every 5 s) measures it, so the graph
  // shows live edges with their rates rather than the registry's map.
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (let i = 0; i < 20; i++) await mesh.callReviews();
    await page.reload();
    await page.waitForSelector('#graph-source');
    if (/from scrape/.test((await page.textContent('#graph-source')) ?? '')) break;
    if (Date.now() > deadline) throw new Error('screenshots: the graph never showed measured traffic');
    await page.waitForTimeout(1000);
  }
  await page.waitForSelector('#graph canvas');
  await page.waitForTimeout(500); // the layout's animation settles
  await page.screenshot({ path: path.join(out, 'graph.png') });
  const shots = [
    ['services.png', '#/services', '#services'],
    ['service.png', `#/services/default/${REVIEWS}`, '#routing-form'],
    ['proxies.png', '#/proxies', 'table.proxies'],
  ];
  for (const [file, hash, ready] of shots) {
    await page.goto(`${mesh.consoleUrl}${hash}`);
    await page.waitForSelector(ready);
    await page.screenshot({ path: path.join(out, file), fullPage: file === 'service.png' });
  }
  // One canary edit through the form, then the audit trail that records it.
  await page.goto(`${mesh.consoleUrl}#/services/default/${REVIEWS}`);
  await page.waitForSelector('#routing-form');
  await page.fill('input[name="weight:v1"]', '90');
  await page.fill('input[name="weight:v2"]', '10');
  await page.click('#routing-form button[type=submit]');
  await page.waitForSelector('#flash.edit-ok');
  await page.goto(`${mesh.consoleUrl}#/audit`);
  await page.waitForSelector('#audit tbody tr');
  await page.screenshot({ path: path.join(out, 'audit.png') });
  if (errors.length > 0) throw new Error(`console errors: ${errors.join('; ')}`);
  console.log(`screenshots: login, graph, services, service, proxies, audit in ${path.relative(root, out)}/`);
} finally {
  await browser.close();
  await mesh.stop();
}
