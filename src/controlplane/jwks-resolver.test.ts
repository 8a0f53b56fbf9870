import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '../core/clock.js';
import { memoryLogger } from '../core/logger.js';
import { jwksRequests } from '../xds/translate/security/jwks-source.js';
import { checkJwks, JwksResolver } from './jwks-resolver.js';

const KEYS_V1 = JSON.stringify({ keys: [{ kty: 'EC', kid: 'v1', crv: 'P-256', x: 'x1', y: 'y1' }] });
const KEYS_V2 = JSON.stringify({ keys: [{ kty: 'EC', kid: 'v2', crv: 'P-256', x: 'x2', y: 'y2' }] });

/** A JWKS server on 127.0.0.1 whose answer per path the test sets. */
async function keyServer(): Promise<{
  url: string;
  routes: Map<string, { status?: number; body: string } | 'hang'>;
  hits: string[];
  close(): Promise<void>;
}> {
  const routes = new Map<string, { status?: number; body: string } | 'hang'>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const r = routes.get(req.url ?? '');
    if (r === 'hang') return; // never answers (until the server closes)
    res.writeHead(r?.status ?? (r ? 200 : 404), { 'content-type': 'application/json' });
    res.end(r?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    routes,
    hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function resolver(clock: FakeClock, extra: { maxBytes?: number } = {}) {
  const { logger, lines } = memoryLogger('jwks');
  let changes = 0;
  const r = new JwksResolver({
    clock,
    logger,
    refreshMs: 20 * 60_000,
    retryMs: 60_000,
    onChange: () => changes++,
    ...extra,
  });
  return { r, lines, changes: () => changes };
}

test('fetches a jwksUri once named, refreshes every 20 minutes and pushes on rotation only', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, changes } = resolver(clock);
  t.after(() => r.close());
  srv.routes.set('/jwks', { body: KEYS_V1 });
  const uri = `${srv.url}/jwks`;
  r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await r.settled();
  assert.equal(r.snapshot().get(uri), KEYS_V1);
  assert.equal(changes(), 1);

  // Same keys at the next refresh: no push.
  clock.advance(20 * 60_000);
  await r.settled();
  assert.equal(srv.hits.length, 2);
  assert.equal(changes(), 1);

  // Rotated keys: the next refresh pushes them.
  srv.routes.set('/jwks', { body: KEYS_V2 });
  clock.advance(19 * 60_000);
  await r.settled();
  assert.equal(r.snapshot().get(uri), KEYS_V1, 'not before the refresh is due');
  clock.advance(60_000);
  await r.settled();
  assert.equal(r.snapshot().get(uri), KEYS_V2);
  assert.equal(changes(), 2);
});

test('a failed refresh keeps the last good keys and retries sooner', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, lines, changes } = resolver(clock);
  t.after(() => r.close());
  const uri = `${srv.url}/jwks`;
  srv.routes.set('/jwks', { body: KEYS_V1 });
  r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await r.settled();
  srv.routes.set('/jwks', { status: 503, body: 'down' });
  clock.advance(20 * 60_000);
  await r.settled();
  assert.equal(r.snapshot().get(uri), KEYS_V1);
  assert.equal(changes(), 1);
  assert.ok(
    lines.some((l) => l.includes('keeping the last good keys')),
    lines.join('\n'),
  );
  srv.routes.set('/jwks', { body: KEYS_V2 });
  clock.advance(60_000);
  await r.settled();
  assert.equal(r.snapshot().get(uri), KEYS_V2, 'retried after retryMs');
});

test('a source never fetched stays absent (the translation inlines reject-all) and is logged', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, lines, changes } = resolver(clock);
  t.after(() => r.close());
  const bad: [string, { status?: number; body: string }][] = [
    ['/404', { status: 404, body: '' }],
    ['/not-json', { body: '<html>' }],
    ['/no-keys', { body: '{"issuer":"x"}' }],
    ['/key-without-kty', { body: '{"keys":[{"kid":"a"}]}' }],
  ];
  for (const [path, answer] of bad) srv.routes.set(path, answer);
  r.want(bad.map(([path]) => ({ id: `${srv.url}${path}`, uri: `${srv.url}${path}`, timeoutMs: 5000 })));
  await r.settled();
  for (const [path] of bad) assert.equal(r.snapshot().get(`${srv.url}${path}`), undefined, path);
  assert.equal(changes(), 0);
  assert.equal(lines.filter((l) => l.includes('tokens for this issuer are rejected')).length, bad.length);
});

test('a JWKS over the size limit is refused', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r } = resolver(clock, { maxBytes: 1000 });
  t.after(() => r.close());
  const big = JSON.stringify({ keys: [{ kty: 'oct', k: 'a'.repeat(5000) }] });
  srv.routes.set('/big', { body: big });
  const uri = `${srv.url}/big`;
  r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await r.settled();
  assert.equal(r.snapshot().get(uri), undefined);
});

test('a server that never answers times out on the clock', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, lines } = resolver(clock);
  t.after(() => r.close());
  srv.routes.set('/hang', 'hang');
  const uri = `${srv.url}/hang`;
  r.want([{ id: uri, uri, timeoutMs: 2000 }]);
  // Let the request reach the server, then let the timeout pass.
  for (let i = 0; i < 100 && srv.hits.length === 0; i++) await new Promise((res) => setImmediate(res));
  clock.advance(2000);
  await r.settled();
  assert.equal(r.snapshot().get(uri), undefined);
  assert.ok(
    lines.some((l) => l.includes('timed out after 2000 ms')),
    lines.join('\n'),
  );
});

test('issuer discovery: openid-configuration -> jwks_uri', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r } = resolver(clock);
  t.after(() => r.close());
  srv.routes.set('/realm/.well-known/openid-configuration', {
    body: JSON.stringify({ issuer: `${srv.url}/realm`, jwks_uri: `${srv.url}/realm/certs` }),
  });
  srv.routes.set('/realm/certs', { body: KEYS_V1 });
  const id = `oidc:${srv.url}/realm`;
  r.want([{ id, issuer: `${srv.url}/realm/`, timeoutMs: 5000 }]);
  await r.settled();
  assert.equal(r.snapshot().get(id), KEYS_V1);
});

test('a source no config names any more is dropped, and that pushes', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, changes } = resolver(clock);
  t.after(() => r.close());
  srv.routes.set('/jwks', { body: KEYS_V1 });
  const uri = `${srv.url}/jwks`;
  r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await r.settled();
  r.want([]);
  assert.equal(r.snapshot().get(uri), undefined);
  assert.equal(changes(), 2);
  clock.advance(60 * 60_000);
  await r.settled();
  assert.equal(srv.hits.length, 1, 'no refresh of a dropped source');
});

test('jwksRequests: every jwksUri or issuer of the config once, inline jwks need nothing', () => {
  const spec = (rules: object[]) => ({ spec: { jwtRules: rules } });
  assert.deepEqual(
    jwksRequests([
      spec([
        { issuer: 'a', jwksUri: 'https://k/1' },
        { issuer: 'b', jwks: '{"keys":[]}' },
      ]),
      spec([{ issuer: 'c', jwksUri: 'https://k/1', timeout: '10s' }, { issuer: 'https://d' }]),
    ]),
    [
      { id: 'https://k/1', uri: 'https://k/1', timeoutMs: 10000 },
      { id: 'oidc:https://d', issuer: 'https://d', timeoutMs: 5000 },
    ],
  );
});

test('checkJwks', () => {
  assert.equal(checkJwks(KEYS_V1), KEYS_V1);
  assert.throws(() => checkJwks('[]'), /not a JSON object/);
  assert.throws(() => checkJwks('{"keys":{}}'), /no "keys" list/);
});

test('close() aborts a fetch in flight', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, changes } = resolver(clock);
  srv.routes.set('/hang', 'hang');
  const uri = `${srv.url}/hang`;
  r.want([{ id: uri, uri, timeoutMs: 60_000 }]);
  for (let i = 0; i < 100 && srv.hits.length === 0; i++) await new Promise((res) => setImmediate(res));
  r.close();
  await r.settled();
  assert.equal(changes(), 0);
  assert.equal(clock.pendingTimers(), 0, 'no refresh scheduled after close');
});

test('a streamed JWKS (no content-length) past the size limit is cut off and refused', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    for (let i = 0; i < 50; i++) res.write(`{"kty":"oct","k":"${'a'.repeat(100)}"},`);
    res.end('{"kty":"oct","k":"b"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`;
  const clock = new FakeClock();
  const small = resolver(clock, { maxBytes: 1000 });
  t.after(() => small.r.close());
  small.r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await small.r.settled();
  assert.equal(small.r.snapshot().get(uri), undefined);
  assert.ok(
    small.lines.some((l) => l.includes('byte limit')),
    small.lines.join('\n'),
  );
  const large = resolver(clock, { maxBytes: 100_000 });
  t.after(() => large.r.close());
  large.r.want([{ id: uri, uri, timeoutMs: 5000 }]);
  await large.r.settled();
  assert.ok(large.r.snapshot().get(uri)?.startsWith('{"keys":['));
});

test('issuer discovery without a jwks_uri is a failed fetch', async (t) => {
  const srv = await keyServer();
  t.after(() => srv.close());
  const clock = new FakeClock();
  const { r, lines } = resolver(clock);
  t.after(() => r.close());
  srv.routes.set('/.well-known/openid-configuration', { body: '{"issuer":"x"}' });
  const id = `oidc:${srv.url}`;
  r.want([{ id, issuer: srv.url, timeoutMs: 5000 }]);
  await r.settled();
  assert.equal(r.snapshot().get(id), undefined);
  assert.ok(
    lines.some((l) => l.includes('has no jwks_uri')),
    lines.join('\n'),
  );
});
