/**
 * `trellis up examples/bookinfo` end to end, as a person would use it: one `up` child process
 * on free ports with a copy of the example's config directory, requests through the gateway,
 * scenario files copied into the config directory while it runs, then Ctrl-C.
 */
import { test } from 'node:test';
import { eventually } from '../../src/core/testing/eventually.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO, startTrellis } from '../integration/helpers/process.js';

const EXAMPLE = path.join(REPO, 'examples/bookinfo');
const scenario = (name: string) => path.join(EXAMPLE, 'scenarios', name);

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started };
}

function reviewsVersion(html: string): string | undefined {
  return /Reviews served by: (reviews-v\d)/.exec(html)?.[1];
}

/** The tail of the `up` output, to explain a failure. */
let context = () => '';
/** How long a config push may take after a file write, and what to show if it never lands. */
const afterPush = { timeoutMs: 30_000, intervalMs: 100, context: () => context() };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test(
  'trellis up examples/bookinfo: routing, live edits, canary, fault, retry, clean Ctrl-C',
  { timeout: 180_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-bookinfo-'));
    await cp(path.join(EXAMPLE, 'config'), dir, { recursive: true });
    const up = startTrellis([
      'up',
      'examples/bookinfo',
      '--config',
      dir,
      '--gateway-port',
      '0',
      '--base-port',
      '0',
      '--xds-port',
      '0',
      '--http-port',
      '0',
      '--stop-grace',
      '3',
    ]);
    context = () => `\ntrellis up output (tail):\n${(up.stdout() + up.stderr()).slice(-4000)}`;
    t.after(async () => {
      await up.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    const [, gateway] = await up.waitForOutput(/gateway: +(http:\/\/127\.0\.0\.1:\d+)/, 45_000);
    const [, pidList] = await up.waitForOutput(/pids: +(.*)\n/);
    const pids = [...(pidList ?? '').matchAll(/=(\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 6, 'one process per bookinfo workload');
    const page = `${gateway}/productpage`;
    const reviewsApi = `${gateway}/api/v1/products/0/reviews`;
    const jason = { 'end-user': 'jason' };

    await t.test('the default config sends every request to reviews v1', async () => {
      for (let i = 0; i < 10; i++) {
        const r = await get(page);
        assert.equal(r.status, 200);
        assert.match(r.text, /William Shakespeare/, 'details through the mesh');
        assert.equal(reviewsVersion(r.text), 'reviews-v1');
      }
    });

    await t.test('an edit to the config directory shifts traffic live: jason gets v2', async () => {
      await copyFile(scenario('jason-v2.yaml'), path.join(dir, 'reviews.yaml'));
      await eventually(async () => reviewsVersion((await get(page, jason)).text) === 'reviews-v2', {
        what: 'jason routed to v2',
        ...afterPush,
      });
      const signedIn = await get(page, { cookie: 'user=jason' });
      assert.equal(reviewsVersion(signedIn.text), 'reviews-v2', 'the login cookie becomes end-user: jason');
      assert.match(signedIn.text, /<font color="black" class="stars">/);
      for (let i = 0; i < 5; i++) assert.equal(reviewsVersion((await get(page)).text), 'reviews-v1');
    });

    await t.test('an invalid edit is reported and traffic keeps its last good config', async () => {
      await writeFile(
        path.join(dir, 'reviews.yaml'),
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews, subset: v2 }, weight: ninety }] }] }\n',
      );
      await up.waitForOutput(/reviews\.yaml:1: spec\.http\[0\]\.route\[0\]\.weight/);
      assert.equal(reviewsVersion((await get(page, jason)).text), 'reviews-v2');
      assert.equal(reviewsVersion((await get(page)).text), 'reviews-v1');
      await copyFile(scenario('jason-v2.yaml'), path.join(dir, 'reviews.yaml'));
    });

    await t.test('a retry hides one injected ratings failure', async () => {
      const failOnce = () => ({ ...jason, 'x-bookinfo-fail': `ratings-once-${randomUUID()}` });
      const failed = await get(page, failOnce());
      assert.equal(reviewsVersion(failed.text), 'reviews-v2');
      assert.match(failed.text, /Ratings service returned 500/, 'without retries the failure shows');
      await copyFile(scenario('ratings-retry.yaml'), path.join(dir, 'ratings.yaml'));
      await eventually(async () => /class="stars"/.test((await get(page, failOnce())).text), {
        what: 'retries applied',
        ...afterPush,
      });
      const hidden = await get(page, failOnce());
      assert.match(hidden.text, /<font color="black" class="stars">★★★★★<\/font>/);
      assert.doesNotMatch(hidden.text, /Ratings service/);
    });

    await t.test('a crashed workload is reported and restarted with backoff', async () => {
      const [, ratingsPid] = /ratings-v1 +\.\.\. ready \(pid (\d+)/.exec(up.stdout()) ?? [];
      process.kill(Number(ratingsPid), 'SIGKILL');
      await up.waitForOutput(/ratings-v1 +\.\.\. crashed \(signal SIGKILL\); restarting in \d+\.\ds/);
      const [, restarted] = await up.waitForOutput(
        /ratings-v1 +\.\.\. restarted and ready \(pid (\d+)/,
        20_000,
      );
      pids.push(Number(restarted));
      // jason's page comes from v2, which calls ratings: stars once ratings answers again.
      await eventually(async () => /class="stars"/.test((await get(page, jason)).text), {
        what: 'ratings answering again',
        ...afterPush,
      });
    });

    await t.test('a fault delay on ratings shows in latency', async () => {
      await copyFile(scenario('ratings-delay.yaml'), path.join(dir, 'ratings.yaml'));
      const slow = await eventually(
        async () => {
          const r = await get(page, jason);
          return r.ms >= 2000 ? r : false;
        },
        { what: 'the delay applied', ...afterPush, timeoutMs: 20_000 },
      );
      assert.equal(reviewsVersion(slow.text), 'reviews-v2');
      assert.match(slow.text, /class="stars"/, 'delayed, not failed');
    });

    await t.test('a 90/10 canary splits 1000 requests within tolerance', async () => {
      await copyFile(scenario('canary-90-10.yaml'), path.join(dir, 'reviews.yaml'));
      // Once v3 answers, productpage's sidecar (the only caller of reviews) has the new routes.
      await eventually(async () => (await get(reviewsApi)).text.includes('"reviews-v3"'), {
        what: 'the canary applied',
        ...afterPush,
      });
      const counts = new Map<string, number>();
      let next = 0;
      const total = 1000;
      const worker = async () => {
        while (next < total) {
          next++;
          const r = await get(reviewsApi);
          assert.equal(r.status, 200, r.text);
          const pod = (JSON.parse(r.text) as { podname: string }).podname;
          counts.set(pod, (counts.get(pod) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      const v3 = (counts.get('reviews-v3') ?? 0) / total;
      assert.deepEqual([...counts.keys()].sort(), ['reviews-v1', 'reviews-v3']);
      // Binomial(1000, 0.1): standard deviation ~0.0095; +-4 sigma.
      assert.ok(v3 > 0.06 && v3 < 0.14, `v3 share ${v3}`);
    });

    await t.test(
      'sidecars call each other over mTLS with their identities; STRICT refuses plaintext',
      async () => {
        const ready =
          /details-v1 +\.\.\. (?:restarted and )?ready \(pid \d+; app :\d+, sidecar in :(\d+) out :\d+ admin :(\d+)\)/.exec(
            up.stdout(),
          );
        assert.ok(ready, 'details-v1 ready line');
        const [, detailsInbound, detailsAdmin] = ready;
        assert.match((await get(page)).text, /William Shakespeare/);
        // The destination side's metrics say who called and how (Istio's labels).
        const stats = (await get(`http://127.0.0.1:${detailsAdmin}/stats/prometheus`)).text;
        const fromProductpage = stats
          .split('\n')
          .filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"'))
          .filter((l) => l.includes('source_principal="spiffe://cluster.local/ns/default/sa/productpage"'));
        assert.ok(
          fromProductpage.length > 0,
          `no request from productpage's identity in:\n${stats.slice(0, 2000)}`,
        );
        assert.ok(fromProductpage.every((l) => l.includes('connection_security_policy="mutual_tls"')));
        // PERMISSIVE (the default) also takes a plaintext caller without an identity...
        const direct = `http://127.0.0.1:${detailsInbound}/details/0`;
        assert.equal((await get(direct, { host: 'details' })).status, 200);
        // ...STRICT mesh-wide does not, and the page keeps working over mTLS.
        await copyFile(scenario('mtls-strict.yaml'), path.join(dir, 'security-mtls.yaml'));
        await eventually(
          async () => {
            try {
              await get(direct, { host: 'details' });
              return false;
            } catch {
              return true;
            }
          },
          { what: 'a plaintext call to a STRICT sidecar refused', ...afterPush },
        );
        const strict = await get(page);
        assert.equal(strict.status, 200);
        assert.match(strict.text, /William Shakespeare/);
      },
    );

    await t.test(
      "a DENY policy on the caller's identity answers 403; removing it restores the call",
      async () => {
        await copyFile(scenario('deny-details.yaml'), path.join(dir, 'security-deny.yaml'));
        await eventually(async () => /Error fetching product details \(403\)/.test((await get(page)).text), {
          what: 'productpage denied by details',
          ...afterPush,
        });
        assert.equal(reviewsVersion((await get(page)).text) !== undefined, true, 'reviews still answers');
        await rm(path.join(dir, 'security-deny.yaml'));
        await eventually(async () => /William Shakespeare/.test((await get(page)).text), {
          what: 'the DENY removed',
          ...afterPush,
        });
      },
    );

    await t.test('a JWT-protected product page: missing 403, bad or expired 401, valid 200', async () => {
      const token = (...args: string[]) =>
        execFileSync(process.execPath, ['--import', 'tsx', 'examples/bookinfo/lib/demo-token.ts', ...args], {
          cwd: REPO,
          encoding: 'utf8',
        }).trim();
      const good = token();
      const expired = token('--ttl=-120');
      const otherAudience = token('--aud', 'someone-else');
      await copyFile(scenario('jwt-productpage.yaml'), path.join(dir, 'security-jwt.yaml'));
      await eventually(async () => (await get(page)).status === 403, {
        what: 'the page needs a JWT',
        ...afterPush,
      });
      assert.equal((await get(page, { authorization: `Bearer ${good}` })).status, 200);
      assert.equal((await get(page, { authorization: `Bearer ${expired}` })).status, 401);
      assert.equal((await get(page, { authorization: `Bearer ${good.slice(0, -4)}AAAA` })).status, 401);
      assert.equal((await get(page, { authorization: `Bearer ${otherAudience}` })).status, 403);
      // Other paths need no token (the policy's notPaths rule).
      assert.equal((await get(reviewsApi)).status, 200);
      await rm(path.join(dir, 'security-jwt.yaml'));
      await eventually(async () => (await get(page)).status === 200, {
        what: 'the JWT rule removed',
        ...afterPush,
      });
    });

    await t.test('Ctrl-C stops every process it started and exits 0', async () => {
      const gatewayPort = Number(new URL(gateway ?? '').port);
      const code = await up.stop('SIGINT');
      assert.equal(code, 0, up.stderr());
      assert.match(up.stdout(), /trellis up: stopped/);
      for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still running`);
      assert.equal(await portOpen(gatewayPort), false, 'the gateway port is closed');
    });
  },
);
