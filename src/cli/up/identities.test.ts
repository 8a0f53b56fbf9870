import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CredentialAuthority } from '../../ca/credentials.js';
import { provisionCredentials } from './identities.js';

test('one workload credential file per subject, private, re-issued at every start, stale ones removed', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-up-id-'));
  try {
    const ca = await CredentialAuthority.fromKey(
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    );
    const first = await provisionCredentials(dir, ca, [
      { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews' },
      { name: 'ratings-v1', namespace: 'shop', serviceAccount: 'ratings' },
    ]);
    const file = first.get('reviews-v1') as string;
    assert.equal(file, path.join(dir, 'credentials', 'reviews-v1.jwt'));
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.join(dir, 'credentials'))).mode & 0o777, 0o700);
    const v = await ca.verify((await fs.readFile(first.get('ratings-v1') as string, 'utf8')).trim(), [
      'workload',
    ]);
    assert.equal(v.spiffeId, 'spiffe://cluster.local/ns/shop/sa/ratings');

    const before = await fs.readFile(file, 'utf8');
    await provisionCredentials(dir, ca, [
      { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews' },
    ]);
    assert.notEqual(await fs.readFile(file, 'utf8'), before, 'rotated');
    assert.deepEqual(await fs.readdir(path.join(dir, 'credentials')), ['reviews-v1.jwt']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
