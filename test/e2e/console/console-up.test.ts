/**
 * `trellis up` and the console: it prints the console's URL and where the editor token it made
 * for the local user is (never the token), and that token logs in as an editor; the next run
 * keeps the same file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tinyMesh } from '../helpers/tiny-mesh.js';

test('up prints the console URL and the token file; the token in it logs in as an editor', async (t) => {
  const mesh = await tinyMesh();
  t.after(() => mesh.remove());
  const up = mesh.start();
  let token = '';
  try {
    const m = await up.waitForOutput(
      /console: +(http:\/\/127\.0\.0\.1:\d+\/console\/) +\(log in with the token in (\S+), made for you now\)/,
      60_000,
    );
    const [, url, file] = m as unknown as [string, string, string];
    const text = await readFile(file, 'utf8');
    token = /^([^#,\s][^,]*),/m.exec(text)?.[1] ?? '';
    assert.ok(token.length >= 32);
    assert.equal((await fetch(url)).status, 200);
    const who = await fetch(new URL('/console/api/session', url), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(who.status, 200);
    assert.equal(((await who.json()) as { role: string }).role, 'editor');
    assert.ok(!(up.stdout() + up.stderr()).includes(token), 'the token is never printed');
  } finally {
    assert.equal(await up.stop(), 0);
  }
  const again = mesh.start();
  try {
    await again.waitForOutput(/console: +http:\S+ +\(log in with the token in \S+\)\n/, 60_000);
    assert.doesNotMatch(again.stdout(), /made for you now/);
  } finally {
    await again.stop();
  }
});
