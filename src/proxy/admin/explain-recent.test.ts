import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { ResponseFlag } from '../connection-manager/response-flags.js';
import { RecentFailures, isFailure, keepHeader, pathOnly } from './explain-recent.js';

const info = (id: string, over: Partial<StreamInfo> = {}, flags: ResponseFlag[] = ['UH']): StreamInfo =>
  ({
    startWallMs: 0,
    method: 'GET',
    path: '/p',
    authority: 'reviews:9080',
    requestId: id,
    requestHeaders: {},
    status: 503,
    flags: new Set(flags),
    attempts: 1,
    ...over,
  }) as unknown as StreamInfo;

test('isFailure: a flag, a 5xx, no response or a filter denial; not a 404 from upstream nor a TCP connection', () => {
  const cases: [string, Partial<StreamInfo>, ResponseFlag[], boolean][] = [
    ['flagged', { status: 503 }, ['UF'], true],
    ['5xx from upstream', { status: 500 }, [], true],
    ['no response', { status: 0 }, [], true],
    [
      'rbac denial (no flag)',
      { status: 403, responseCodeDetails: 'rbac_access_denied_matched_policy[none]' },
      [],
      true,
    ],
    ['upstream 404', { status: 404 }, [], false],
    ['ok', { status: 200 }, [], false],
    ['tcp', { method: '', status: 0 }, ['UF'], false],
  ];
  for (const [what, over, flags, want] of cases) assert.equal(isFailure(info('x', over, flags)), want, what);
});

test('RecentFailures keeps the last N failures, newest first for a repeated id, without credentials', () => {
  const ring = new RecentFailures(3);
  ring.record(info('ok', { status: 200 }, []));
  for (const id of ['a', 'b', 'c', 'd']) ring.record(info(id));
  assert.equal(ring.size, 3);
  assert.equal(ring.find('a'), undefined, 'the oldest is forgotten');
  assert.equal(ring.find('ok'), undefined, 'successes are not kept');
  assert.equal(ring.find('d')?.failure.flags, 'UH');
  ring.record(info('d', { status: 504 }, ['UT']));
  assert.equal(ring.find('d')?.failure.flags, 'UT', 'the most recent with an id wins');

  ring.record(
    info('h', {
      requestHeaders: {
        authorization: 'Bearer x',
        cookie: 'c',
        'x-user': 'jason',
        ':path': '/p',
        accept: ['a', 'b'],
      },
    }),
  );
  assert.deepEqual(ring.find('h')?.headers, { 'x-user': 'jason', accept: 'a,b' });
  assert.deepEqual(ring.find('h')?.failure.meanings, [
    'UH: no healthy upstream: the cluster had no endpoint to send the request to',
  ]);

  const anonymous = info('');
  ring.record(anonymous);
  assert.match(anonymous.requestId, /^[0-9a-f-]{36}$/, 'an id is given to a failed request without one');
  assert.equal(ring.find(anonymous.requestId)?.failure.path, '/p');
});

test('RecentFailures keeps no query string and no credential, whatever header carries it', () => {
  const ring = new RecentFailures(4);
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYXNvbiJ9.c2ln';
  ring.record(
    info('q', {
      path: '/reviews/1?access_token=secret&api_key=k',
      requestHeaders: {
        'x-jwt-assertion': jwt,
        'x-custom-token-header': 'opaque',
        'x-forwarded-access': `Bearer ${jwt}`,
        'x-my-creds': 'Basic dXNlcjpwYXNz',
        'x-api-key': 'k',
        'x-session-id': 's',
        'x-user': 'jason',
        'end-user': 'jason',
        'content-type': 'application/json',
      },
    }),
  );
  const found = ring.find('q');
  assert.equal(found?.failure.path, '/reviews/1');
  assert.deepEqual(found?.headers, {
    'x-user': 'jason',
    'end-user': 'jason',
    'content-type': 'application/json',
  });
  ring.record(info('plain', { path: '/p' }));
  assert.equal(ring.find('plain')?.failure.path, '/p');
});

test('keepHeader and pathOnly', () => {
  const table: [string, string, boolean][] = [
    ['x-user', 'jason', true],
    ['x-version', 'v2', true],
    ['authorization', 'x', false],
    ['x-auth', 'x', false],
    ['x-token', 'x', false],
    ['x-anything', 'bearer abc', false],
    ['x-anything', 'eyJhbGciOiJIUzI1NiJ9.e30.x', false],
    ['x-anything', 'eyes', true],
    [':path', '/', false],
  ];
  for (const [name, value, want] of table) assert.equal(keepHeader(name, value), want, `${name}: ${value}`);
  assert.equal(pathOnly('/a?b=c'), '/a');
  assert.equal(pathOnly('/a'), '/a');
  assert.equal(pathOnly('/?'), '/');
});
