/**
 * Writes under `trellis up`: the API writes into the config directory layer of a layered store
 * (files under applied/), never over what `up` derives from its manifest; and a directory's
 * problems and warnings are said once per change, not at every reload an API write causes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../api/parse.js';
import type { Resource } from '../api/resource.js';
import { memoryLogger } from '../core/logger.js';
import { TrellisError } from '../core/errors.js';
import { configWriterFor } from './config-writer.js';
import { DirectoryConfigStore } from './directory-store.js';
import { LayeredConfigStore } from './layered-store.js';
import { MemoryConfigStore } from './memory-store.js';

const vs = (name: string, host = name): Resource => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
  spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
});
const gateway: Resource = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'default' },
  spec: {
    selector: { istio: 'ingressgateway' },
    servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  },
};

async function setup(t: { after: (fn: () => Promise<void> | void) => void }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-layered-'));
  const { logger, lines } = memoryLogger();
  const user = new DirectoryConfigStore(dir, { parse: parseAndValidate, logger, rescanMs: 0 });
  await user.start();
  const derived = new MemoryConfigStore();
  derived.apply(gateway);
  const layered = new LayeredConfigStore([derived, user], {
    writable: user,
    sources: new Map([[derived, '/m/mesh.yaml (made by trellis up)']]),
  });
  t.after(async () => {
    layered.close();
    user.close();
    await rm(dir, { recursive: true, force: true });
  });
  const writer = configWriterFor(layered);
  assert.ok(writer, 'a layered store with a writable layer is writable');
  return { dir, layered, writer, lines, user };
}

test('apply and delete through a layered store write files in the writable directory', async (t) => {
  const { dir, layered, writer } = await setup(t);
  const applied = await writer.apply([vs('reviews')]);
  assert.equal(applied.applied[0]?.outcome, 'created');
  assert.equal(applied.revision, layered.revision, "the layered store's revision");
  const file = path.join(dir, 'applied', 'virtualservice.default.reviews.yaml');
  assert.match(await readFile(file, 'utf8'), /name: reviews/);
  assert.ok(layered.get('VirtualService', 'default', 'reviews'), 'served through the layered store');
  assert.equal(writer.origin('VirtualService', 'default', 'reviews'), file);
  assert.equal(writer.origin('Gateway', 'default', 'gw'), '/m/mesh.yaml (made by trellis up)');
  assert.equal(writer.origin('VirtualService', 'default', 'nope'), undefined);

  const deleted = await writer.delete('VirtualService', 'default', 'reviews');
  assert.equal(deleted.revision, layered.revision);
  assert.equal(layered.get('VirtualService', 'default', 'reviews'), undefined);
  await assert.rejects(readFile(file), /ENOENT/);
});

test('what another layer serves is refused, naming where it comes from, and nothing is written', async (t) => {
  const { dir, layered, writer } = await setup(t);
  const revision = layered.revision;
  const conflict = (err: unknown) =>
    err instanceof TrellisError &&
    err.code === 'TRELLIS_CONFLICT' &&
    /^Gateway default\/gw comes from \/m\/mesh\.yaml \(made by trellis up\) and cannot be changed with apply or delete; change it there/.test(
      err.message,
    );
  // All or nothing: the valid VirtualService beside it is not applied either.
  await assert.rejects(
    writer.apply([vs('ok'), { ...gateway, spec: { ...(gateway.spec as object), selector: { app: 'x' } } }]),
    conflict,
  );
  await assert.rejects(writer.delete('Gateway', 'default', 'gw'), conflict);
  assert.equal(layered.revision, revision);
  assert.equal(layered.get('VirtualService', 'default', 'ok'), undefined);
  await assert.rejects(readFile(path.join(dir, 'applied', 'gateway.default.gw.yaml')), /ENOENT/);
});

test('a layered store without a writable layer stays read-only', () => {
  const layered = new LayeredConfigStore([new MemoryConfigStore(), new MemoryConfigStore()]);
  assert.equal(configWriterFor(layered), undefined);
  assert.throws(
    () => new LayeredConfigStore([new MemoryConfigStore()], { writable: new MemoryConfigStore() }),
    /one of its layers/,
  );
});

test("a file's problems and warnings are logged once per change, not at every reload", async (t) => {
  const { dir, writer, lines, user } = await setup(t);
  await writeFile(
    path.join(dir, 'bad.yaml'),
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: bad }\nspec: { hosts: [bad], http: [{ route: [{ destination: { host: bad }, weight: ninety }] }] }\n',
  );
  await user.reload();
  const said = () => lines.filter((l) => l.includes('bad.yaml:1: spec.http[0].route[0].weight')).length;
  assert.equal(said(), 1);
  // An API write reloads the directory (and its watcher would again): nothing new to say.
  await writer.apply([vs('reviews')]);
  await user.reload();
  assert.equal(said(), 1, lines.join(''));
  // A new problem in the same file is said.
  await writeFile(
    path.join(dir, 'bad.yaml'),
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: bad }\nspec: { hosts: [bad], http: [{ route: [{ destination: { host: bad }, weight: eighty }] }] }\n',
  );
  await user.reload();
  assert.equal(said(), 2);
});
