import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../core/clock.js';
import { memoryLogger } from '../core/logger.js';
import { ControlPlaneConfigPoller, type PollOutcome } from './config-control-plane.js';
import { RateLimitService } from './service.js';

/** A stand-in for the control plane's HTTP API: answers whatever `reply` holds. */
async function fakeControlPlane() {
  const state = { reply: { status: 200, body: '{}' }, requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    if (req.url !== '/v1/ratelimit/config') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(state.reply.status, { 'content-type': 'application/json' }).end(state.reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    state,
    url: `http://127.0.0.1:${port}/`,
    serve(doc: unknown, status = 200) {
      state.reply = { status, body: typeof doc === 'string' ? doc : JSON.stringify(doc) };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

function perUser(requestsPerUnit: number, unit = 'minute') {
  return {
    domain: 'edge',
    descriptors: [{ key: 'user', rate_limit: { unit, requests_per_unit: requestsPerUnit } }],
  };
}

async function limitOf(service: RateLimitService): Promise<number | undefined> {
  const r = await service.shouldRateLimit({
    domain: 'edge',
    descriptors: [{ entries: [{ key: 'user', value: 'a' }] }],
  });
  return r.statuses[0]?.current_limit?.requests_per_unit;
}

test('control plane config: applies each new revision, ignores extra fields, keeps an unchanged one', async () => {
  const cp = await fakeControlPlane();
  const service = new RateLimitService();
  const poller = new ControlPlaneConfigPoller({ url: cp.url, service });
  try {
    cp.serve({ revision: 1, generated_by: 'trellis', domains: [perUser(5)] });
    assert.equal(await poller.pollOnce(), 'applied');
    assert.equal(poller.revision(), '1');
    assert.equal(await limitOf(service), 5);
    const reloads = service.metrics.configReloads;
    assert.equal(await poller.pollOnce(), 'unchanged');
    assert.equal(service.metrics.configReloads, reloads, 'an unchanged revision is not re-applied');
    cp.serve({ revision: 2, domains: [perUser(50)] });
    assert.equal(await poller.pollOnce(), 'applied');
    assert.equal(await limitOf(service), 50);
    cp.serve({ revision: 3, domains: [] });
    assert.equal(await poller.pollOnce(), 'applied');
    assert.equal(await limitOf(service), undefined, 'no domains: nothing limited');
  } finally {
    await cp.stop();
    await service.close();
  }
});

test('control plane config: an invalid revision is logged once with its field paths; the last good one stays', async () => {
  const cp = await fakeControlPlane();
  const service = new RateLimitService();
  const { logger, lines } = memoryLogger();
  const poller = new ControlPlaneConfigPoller({ url: cp.url, service, logger });
  try {
    cp.serve({ revision: 1, domains: [perUser(5)] });
    assert.equal(await poller.pollOnce(), 'applied');
    cp.serve({ revision: 2, domains: [perUser(5, 'fortnight'), { domain: '' }] });
    assert.equal(await poller.pollOnce(), 'invalid');
    assert.equal(await poller.pollOnce(), 'invalid');
    const rejected = lines.filter((l) => l.includes('rejected'));
    assert.equal(rejected.length, 1, 'logged once, not on every poll');
    assert.match(rejected[0]!, /domains\[0\]\.descriptors\[0\]\.rate_limit\.unit/);
    assert.match(rejected[0]!, /domains\[1\]\.domain/);
    assert.equal(poller.revision(), '1');
    assert.equal(await limitOf(service), 5, 'revision 1 still in force');
    cp.serve({ revision: 3, domains: 'edge' });
    assert.equal(await poller.pollOnce(), 'invalid');
    assert.match(lines.at(-1)!, /domains: expected a list of domains/);
    cp.serve({ revision: 4, domains: [perUser(7)] });
    assert.equal(await poller.pollOnce(), 'applied');
    assert.equal(await limitOf(service), 7);
  } finally {
    await cp.stop();
    await service.close();
  }
});

test('control plane config: an outage is logged once and the last config kept until it is back', async () => {
  const cp = await fakeControlPlane();
  const service = new RateLimitService();
  const { logger, lines } = memoryLogger();
  const poller = new ControlPlaneConfigPoller({ url: cp.url, service, logger });
  try {
    cp.serve({ revision: 1, domains: [perUser(5)] });
    assert.equal(await poller.pollOnce(), 'applied');
    await cp.stop();
    for (let i = 0; i < 3; i++) assert.equal(await poller.pollOnce(), 'unreachable');
    await cp.restart();
    cp.serve('upstream connect error', 503);
    assert.equal(await poller.pollOnce(), 'unreachable', 'an error answer is no config either');
    cp.serve('{"revision": 2, "domains": [', 200);
    assert.equal(await poller.pollOnce(), 'unreachable', 'nor is a cut-off JSON body');
    assert.equal(lines.filter((l) => l.includes('unreachable')).length, 1, 'one line per outage');
    assert.equal(await limitOf(service), 5, 'revision 1 kept through the outage');
    cp.serve({ revision: 2, domains: [perUser(9)] });
    assert.equal(await poller.pollOnce(), 'applied');
    assert.equal(lines.filter((l) => l.includes('reachable again')).length, 1);
    assert.equal(await limitOf(service), 9);
  } finally {
    await cp.stop();
    await service.close();
  }
});

test('control plane config: start() polls at once and then every poll interval, until close()', async () => {
  const cp = await fakeControlPlane();
  const clock = new FakeClock();
  const service = new RateLimitService({ clock });
  const poller = new ControlPlaneConfigPoller({ url: cp.url, service, clock, pollIntervalMs: 2000 });
  const outcomes: PollOutcome[] = [];
  let waiter: (() => void) | undefined;
  poller.onPoll((o) => {
    outcomes.push(o);
    waiter?.();
  });
  const nextPoll = () => new Promise<void>((resolve) => (waiter = resolve));
  try {
    cp.serve({ revision: 1, domains: [perUser(5)] });
    let polled = nextPoll();
    poller.start();
    await polled;
    assert.deepEqual(outcomes, ['applied']);
    clock.advance(1999);
    assert.equal(cp.state.requests, 1, 'not before the interval');
    cp.serve({ revision: 2, domains: [perUser(6)] });
    polled = nextPoll();
    clock.advance(1);
    await polled;
    assert.deepEqual(outcomes, ['applied', 'applied']);
    assert.equal(poller.revision(), '2');
    poller.close();
    clock.advance(10_000);
    assert.equal(cp.state.requests, 2, 'no polls after close()');
  } finally {
    poller.close();
    await cp.stop();
    await service.close();
  }
});
