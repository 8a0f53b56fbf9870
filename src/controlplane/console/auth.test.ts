import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleAuth, allowed } from './auth.js';
import { parseTokenFile } from './tokens.js';

const auth = new ConsoleAuth(
  parseTokenFile('editor-secret-1,alice,1,trellis:editors\nviewer-secret-2,bob,2,trellis:viewers\n', 't.csv')
    .entries,
);

test('a known bearer token names its user and role', () => {
  const alice = auth.authenticate('Bearer editor-secret-1');
  assert.ok(alice.ok);
  assert.deepEqual(alice.user, { user: 'alice', uid: '1', groups: ['trellis:editors'], role: 'editor' });
  const bob = auth.authenticate('bearer   viewer-secret-2 ');
  assert.ok(bob.ok);
  assert.equal(bob.user.role, 'viewer');
});

test('401 for anything but a known bearer token, bypasses included', () => {
  const attempts: (string | undefined)[] = [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic ZWRpdG9yLXNlY3JldC0xOg==',
    'editor-secret-1',
    'Bearer editor-secret-',
    'Bearer editor-secret-12',
    'Bearer EDITOR-SECRET-1',
    'Bearer editor-secret-1 viewer-secret-2',
    'Bearer editor-secret-1,viewer-secret-2',
    'Token editor-secret-1',
    'Bearer\neditor-secret-1',
    'XBearer editor-secret-1',
    'NotBearer editor-secret-1',
  ];
  for (const a of attempts) {
    const out = auth.authenticate(a);
    assert.equal(out.ok, false, JSON.stringify(a));
    assert.equal(out.ok ? 0 : out.status, 401, JSON.stringify(a));
  }
  const none = auth.authenticate(undefined);
  assert.match(none.ok ? '' : none.message, /Authorization: Bearer TOKEN/);
  const unknown = auth.authenticate('Bearer nope');
  assert.match(unknown.ok ? '' : unknown.message, /^unknown token/);
});

test('viewers read; only editors write (403 says what role is missing)', () => {
  assert.equal(auth.check('Bearer viewer-secret-2', 'read').ok, true);
  assert.equal(auth.check('Bearer editor-secret-1', 'write').ok, true);
  const denied = auth.check('Bearer viewer-secret-2', 'write');
  assert.deepEqual(denied, {
    ok: false,
    status: 403,
    message: 'bob is a viewer: changes need the editor role (group trellis:editors in the token file)',
  });
  // An unknown token asking to write is a 401, not a 403: nothing says who it is.
  const anon = auth.check('Bearer nope', 'write');
  assert.equal(anon.ok ? 0 : anon.status, 401);
  assert.deepEqual(
    (['read', 'write'] as const).flatMap((a) =>
      (['viewer', 'editor'] as const).map((r) => `${r}:${a}:${allowed(r, a)}`),
    ),
    ['viewer:read:true', 'editor:read:true', 'viewer:write:false', 'editor:write:true'],
  );
});

test('no tokens at all: nobody gets in', () => {
  assert.equal(new ConsoleAuth([]).authenticate('Bearer anything').ok, false);
});
