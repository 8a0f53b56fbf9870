/**
 * The console in a real browser (Debian's chromium through playwright-core) on a running mesh:
 * a control plane with bookinfo's services and a real Trellis proxy carrying the traffic.
 *
 *   pages load with no console errors; the graph shows the bookinfo services;
 *   an editor moves reviews' canary weight and the traffic through the proxy shifts;
 *   an invalid edit shows its field-path error and changes nothing;
 *   a viewer sees no edit controls, and a write forged from the page gets 403.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
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

const servicePage = () => `${mesh.consoleUrl}#/services/default/${REVIEWS}`;

/** Clicks a save button and waits for the page to say the store took the edit (a newer revision). */
async function saveAndWait(page: import('playwright-core').Page, button: string): Promise<void> {
  const before = mesh.mesh.store.revision;
  await page.click(button);
  await eventually(
    async () => {
      const text =
        (await page
          .locator('#flash.edit-ok')
          .textContent({ timeout: 200 })
          .catch(() => '')) ?? '';
      const revision = Number(/revision (\d+)/.exec(text)?.[1] ?? -1);
      assert.ok(revision > before, `saved at a revision after ${before}: ${JSON.stringify(text)}`);
    },
    { what: 'the page says the edit was saved', timeoutMs: 10_000 },
  );
}

/** How many of `n` requests to reviews each version answered. */
async function countVersions(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const body = await mesh.callReviews();
    counts[body] = (counts[body] ?? 0) + 1;
  }
  return counts;
}

test(
  'every page loads with no console errors, and the graph shows the bookinfo services',
  { skip },
  async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${mesh.mesh.httpUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/console/', '/ redirects to the console');
    await page.fill('#token', EDITOR_TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('.graph-nodes li');
    assert.match((await page.textContent('#who')) ?? '', /alice · editor/);
    const nodes: (string | null)[] = await page
      .locator('.graph-nodes li')
      .evaluateAll((els) =>
        els.map((e) =>
          (e as unknown as { getAttribute(n: string): string | null }).getAttribute('data-node'),
        ),
      );
    for (const svc of ['productpage', 'details', 'reviews', 'ratings'])
      assert.ok(
        nodes.includes(`service:${svc}.default.svc.cluster.local`),
        `graph node for ${svc}: ${nodes.join(' ')}`,
      );
    assert.ok(
      nodes.includes('app:default/reviews/v1') && nodes.includes('app:default/reviews/v2'),
      'both reviews versions',
    );
    assert.equal((await page.locator('#graph canvas').count()) > 0, true, 'cytoscape drew the graph');

    await page.click('a[href="#/services"]');
    await page.waitForSelector('#services');
    assert.match(
      (await page.textContent('#services')) ?? '',
      /reviews\.default\.svc\.cluster\.local.*v1, v2/s,
    );
    await page.click(`a[href="#/services/default/${REVIEWS}"]`);
    await page.waitForSelector('#versions');
    assert.match((await page.textContent('#versions')) ?? '', /v1.*v2/s);

    await page.click('a[href="#/proxies"]');
    await page.waitForSelector('table.proxies');
    assert.match((await page.textContent('table.proxies')) ?? '', /productpage-1.*SYNCED/s);
    await page.click('table.proxies a');
    await page.waitForSelector('pre.dump');
    assert.match(
      (await page.textContent('pre.dump')) ?? '',
      /ListenersConfigDump|dynamic_listeners|outbound\|9080/,
    );

    await page.click('a[href="#/errors"]');
    await page.waitForSelector('main h1:text("Config errors")');
    await page.click('a[href="#/audit"]');
    await page.waitForSelector('#audit');
    assert.deepEqual(errors, []);
    await page.context().close();
  },
);

test('an editor moves the canary weight and the traffic through the proxy shifts', { skip }, async () => {
  const before = await countVersions(20);
  assert.ok(
    (before['reviews-v1'] ?? 0) > 0 && (before['reviews-v2'] ?? 0) > 0,
    `both versions answer at first: ${JSON.stringify(before)}`,
  );
  const { page, errors } = await openPage(browser);
  await logIn(page, servicePage(), EDITOR_TOKEN);
  await page.waitForSelector('#routing-form');
  await page.fill('input[name="weight:v1"]', '0');
  await page.fill('input[name="weight:v2"]', '100');
  await saveAndWait(page, '#routing-form button[type=submit]');
  await eventually(async () => assert.deepEqual(await countVersions(20), { 'reviews-v2': 20 }), {
    what: 'every request goes to reviews v2',
    timeoutMs: 10_000,
  });

  // And back: the form is prefilled with what is written now.
  await page.waitForSelector('#routing-form');
  assert.equal(await page.inputValue('input[name="weight:v2"]'), '100');
  await page.fill('input[name="weight:v1"]', '100');
  await page.fill('input[name="weight:v2"]', '0');
  await saveAndWait(page, '#routing-form button[type=submit]');
  await eventually(async () => assert.deepEqual(await countVersions(20), { 'reviews-v1': 20 }), {
    what: 'every request goes to reviews v1',
    timeoutMs: 10_000,
  });

  const vs = mesh.mesh.store.get('VirtualService', 'default', 'reviews');
  assert.equal(vs?.metadata.annotations?.['trellis.io/edited-by'], 'alice', 'the resource names its editor');
  await page.click('a[href="#/audit"]');
  await page.waitForSelector('#audit tbody tr');
  assert.match(
    (await page.textContent('#audit')) ?? '',
    /alice \(editor\).*apply.*VirtualService default\/reviews.*applied/s,
  );
  const lines = (await readFile(path.join(mesh.stateDir, 'console-audit.jsonl'), 'utf8')).trim().split('\n');
  assert.ok(lines.length >= 2);
  assert.equal(JSON.parse(lines[0] as string).user, 'alice');
  assert.deepEqual(errors, []);
  await page.context().close();
});

test(
  'an editor routes one user by header and injects a fault; the proxy serves both; removing the fault restores traffic',
  { skip },
  async () => {
    const { page, errors } = await openPage(browser);
    await logIn(page, servicePage(), EDITOR_TOKEN);
    await page.waitForSelector('#routing-form');
    await page.fill('input[name="weight:v1"]', '100');
    await page.fill('input[name="weight:v2"]', '0');
    await page.fill('input[name=header]', 'x-user');
    await page.fill('input[name=headerValue]', 'jason');
    await page.selectOption('select[name=headerVersion]', 'v2');
    await saveAndWait(page, '#routing-form button[type=submit]');
    await eventually(
      async () => {
        assert.deepEqual(await countVersions(10), { 'reviews-v1': 10 });
        assert.equal(await mesh.callReviews({ 'x-user': 'jason' }), 'reviews-v2');
      },
      { what: 'jason goes to v2, everyone else to v1', timeoutMs: 10_000 },
    );

    await page.waitForSelector('form[data-feature=fault]');
    await page.fill('form[data-feature=fault] input[name=abortStatus]', '418');
    await page.fill('form[data-feature=fault] input[name=abortPercent]', '100');
    await saveAndWait(page, 'form[data-feature=fault] button[type=submit]');
    await eventually(async () => assert.equal((await mesh.requestReviews()).status, 418), {
      what: 'the fault filter answers 418',
      timeoutMs: 10_000,
    });
    const filter = mesh.mesh.store.get('TrafficFilter', 'default', 'reviews-console-fault');
    assert.equal((filter?.spec as { owner?: string }).owner, 'console');
    assert.equal(filter?.metadata.annotations?.['trellis.io/edited-by'], 'alice');

    await page.waitForSelector('form[data-feature=fault] button.secondary');
    await page.click('form[data-feature=fault] button.secondary');
    await eventually(
      async () => assert.deepEqual(await mesh.requestReviews(), { status: 200, body: 'reviews-v1' }),
      {
        what: 'the fault is gone',
        timeoutMs: 10_000,
      },
    );
    assert.equal(mesh.mesh.store.get('TrafficFilter', 'default', 'reviews-console-fault'), undefined);
    assert.deepEqual(errors, []);
    await page.context().close();
  },
);

test('an invalid edit shows its field-path error and changes nothing', { skip }, async () => {
  const { page, errors } = await openPage(browser);
  await logIn(page, servicePage(), EDITOR_TOKEN);
  const revision = mesh.mesh.store.revision;
  await page.fill('form[data-feature=timeout] input[name=timeout]', 'soon');
  await page.click('form[data-feature=timeout] button[type=submit]');
  await page.waitForSelector('form[data-feature=timeout] .edit-error');
  const shown = (await page.textContent('form[data-feature=timeout] .edit-error')) ?? '';
  assert.match(shown, /nothing was applied/);
  assert.match(shown, /spec\.timeout: /);
  assert.equal(mesh.mesh.store.revision, revision, 'the store did not change');
  assert.equal(mesh.mesh.store.get('TrafficFilter', 'default', 'reviews-console-timeout'), undefined);
  // The 400 is the answer the page expected; the browser logs it as a failed resource load.
  assert.deepEqual(
    errors.filter((e) => !/status of 400/.test(e)),
    [],
  );
  await page.context().close();
});

test('a viewer sees no edit controls, and a write forged from the page gets 403', { skip }, async () => {
  const { page, errors } = await openPage(browser);
  await logIn(page, servicePage(), VIEWER_TOKEN);
  await page.waitForSelector('#viewer-note');
  assert.match((await page.textContent('#who')) ?? '', /bob · viewer/);
  assert.equal(await page.locator('#editors').count(), 0);
  assert.equal(await page.locator('form.editor').count(), 0);
  assert.equal(await page.locator('.access-log input').first().isDisabled(), true);
  const revision = mesh.mesh.store.revision;
  const forged = await page.evaluate(async (host) => {
    const storage = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } })
      .sessionStorage;
    const token = storage.getItem('trellis.console.token') ?? '';
    const res = await fetch('/console/api/config', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'trellis.io/v1alpha1',
        kind: 'TrafficFilter',
        metadata: { name: 'forged', namespace: 'default' },
        spec: { target: { host }, owner: 'console', timeout: '1s' },
      }),
    });
    return { status: res.status, body: await res.text() };
  }, REVIEWS);
  assert.equal(forged.status, 403);
  assert.match(forged.body, /bob is a viewer/);
  assert.equal(mesh.mesh.store.revision, revision);
  assert.equal(mesh.mesh.store.get('TrafficFilter', 'default', 'forged'), undefined);
  assert.deepEqual(
    errors.filter((e) => !/status of 403/.test(e)),
    [],
  );
  await page.context().close();
});
