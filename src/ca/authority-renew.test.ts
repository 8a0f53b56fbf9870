import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isTrellisError } from '../core/errors.js';
import { CertificateAuthority, PLUGIN_FILES, ROOT_KEY_FILE } from './authority.js';
import { generateKeyAndCsr } from './workload.js';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const identity = { namespace: 'bookinfo', serviceAccount: 'reviews' };

function clockAt(ms: number): { wallNow: () => number; set(to: number): void } {
  let now = ms;
  return { wallNow: () => now, set: (to) => (now = to) };
}

async function stateDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'trellis-ca-renew-'));
}

async function sign(
  ca: CertificateAuthority,
): Promise<{ leaf: X509Certificate; inter: X509Certificate; root: X509Certificate }> {
  const { csrPem } = await generateKeyAndCsr();
  const chain = await ca.signCsr(csrPem, { identity });
  return {
    leaf: new X509Certificate(chain.certChainPem[0] as string),
    inter: new X509Certificate(chain.certChainPem[1] as string),
    root: new X509Certificate(chain.rootPem),
  };
}

test('a self-provisioned CA keeps its root key (0600) beside the plug-in files', async () => {
  const dir = await stateDir();
  const ca = await CertificateAuthority.create({ clock: clockAt(T0) });
  await ca.writePluginDirectory(dir);
  const stat = await fs.stat(path.join(dir, ROOT_KEY_FILE));
  assert.equal(stat.mode & 0o777, 0o600);
  const root = new X509Certificate(await fs.readFile(path.join(dir, PLUGIN_FILES.rootCert)));
  const key = (await import('node:crypto')).createPrivateKey(
    await fs.readFile(path.join(dir, ROOT_KEY_FILE)),
  );
  assert.ok(root.checkPrivateKey(key), 'root-key.pem is the root certificate key');
});

test('the intermediate is re-issued from the kept root once less than a fifth of its life is left', async () => {
  const dir = await stateDir();
  const clock = clockAt(T0);
  const ca = await CertificateAuthority.create({ clock, intermediateTtlSeconds: 100 * 86_400 });
  await ca.writePluginDirectory(dir);
  const before = await sign(ca);

  // Day 79 of 100: not yet due; the same intermediate signs.
  clock.set(T0 + 79 * DAY_MS);
  const loaded = await CertificateAuthority.fromStateDirectory(dir, {
    clock,
    intermediateTtlSeconds: 100 * 86_400,
  });
  assert.equal(await loaded.renewIntermediate(), false);
  assert.equal((await sign(loaded)).inter.fingerprint256, before.inter.fingerprint256);

  // Day 81: due. Signing re-issues it; leaves chain to the new intermediate under the same root
  // and are no longer capped by the old intermediate's last days.
  clock.set(T0 + 81 * DAY_MS);
  const after = await sign(loaded);
  assert.notEqual(after.inter.fingerprint256, before.inter.fingerprint256);
  assert.equal(after.root.fingerprint256, before.root.fingerprint256);
  assert.ok(after.inter.verify(before.root.publicKey), 'the new intermediate is signed by the same root');
  assert.ok(after.leaf.verify(after.inter.publicKey));
  assert.equal(Date.parse(after.leaf.validTo) - (T0 + 81 * DAY_MS), DAY_MS, 'a full 24 h leaf');
  assert.equal(Date.parse(after.inter.validTo), T0 + 181 * DAY_MS);

  // The new intermediate is what a restart loads.
  const onDisk = new X509Certificate(await fs.readFile(path.join(dir, PLUGIN_FILES.caCert)));
  assert.equal(onDisk.fingerprint256, after.inter.fingerprint256);
  const restarted = await CertificateAuthority.fromStateDirectory(dir, { clock });
  assert.equal((await sign(restarted)).inter.fingerprint256, after.inter.fingerprint256);
});

test('a re-issued intermediate never outlives the root', async () => {
  const dir = await stateDir();
  const clock = clockAt(T0);
  const ca = await CertificateAuthority.create({
    clock,
    rootTtlSeconds: 150 * 86_400,
    intermediateTtlSeconds: 100 * 86_400,
  });
  await ca.writePluginDirectory(dir);
  clock.set(T0 + 90 * DAY_MS);
  assert.equal(await ca.renewIntermediate(), true);
  const { inter, root } = await sign(ca);
  assert.equal(inter.validTo, root.validTo);
});

test('without the root key (a plug-in CA, an older state directory) nothing is re-issued', async () => {
  const dir = await stateDir();
  const clock = clockAt(T0);
  const ca = await CertificateAuthority.create({ clock, intermediateTtlSeconds: 100 * 86_400 });
  await ca.writePluginDirectory(dir);
  await fs.rm(path.join(dir, ROOT_KEY_FILE));
  clock.set(T0 + 99.5 * DAY_MS);
  const old = await CertificateAuthority.fromStateDirectory(dir, { clock });
  assert.equal(await old.renewIntermediate(true), false);
  const plugin = await CertificateAuthority.fromPluginDirectory(dir, { clock });
  assert.equal(await plugin.renewIntermediate(true), false);
  const { leaf, inter } = await sign(old);
  assert.equal(leaf.validTo, inter.validTo, 'leaves are capped by the old intermediate');
});

test('a root key that does not match the root is refused, naming the file', async () => {
  const dir = await stateDir();
  const ca = await CertificateAuthority.create({ clock: clockAt(T0) });
  await ca.writePluginDirectory(dir);
  const other = await stateDir();
  await (await CertificateAuthority.create({ clock: clockAt(T0) })).writePluginDirectory(other);
  await fs.copyFile(path.join(other, ROOT_KEY_FILE), path.join(dir, ROOT_KEY_FILE));
  await assert.rejects(CertificateAuthority.fromStateDirectory(dir), (err: unknown) => {
    assert.ok(isTrellisError(err));
    assert.equal(err.file, path.join(dir, ROOT_KEY_FILE));
    assert.match(err.message, /root/);
    return true;
  });
});
