/**
 * The etcd config store and writer against a real etcd: two stores (as two replicas would) on
 * one etcd, optimistic concurrency, all-or-none applies, invalid stored values, etcd going away
 * and coming back, and a restart while etcd is down served from the disk cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isTrellisError } from '../../../src/core/errors.js';
import { memoryLogger } from '../../../src/core/logger.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { Resource } from '../../../src/api/resource.js';
import { EtcdConfigStore } from '../../../src/config/etcd-store.js';
import { configWriterFor } from '../../../src/config/config-writer.js';
import { parseEtcdUrl } from '../../../src/config/etcd-keys.js';
import { closeEtcdClient, createEtcdClient } from '../../../src/config/etcd-client.js';
import type { ConfigEvent } from '../../../src/config/store.js';
import { EtcdServer, etcdSkip } from '../helpers/etcd.js';

function vs(name: string, weight: number, namespace = 'default'): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: name }, weight }] }] },
  };
}

const weightOf = (r: Resource | undefined) =>
  (r?.spec as { http?: { route?: { weight?: number }[] }[] } | undefined)?.http?.[0]?.route?.[0]?.weight;

/** n stores on `etcd`, as n replicas; the config prefix starts empty unless `keep`. */
async function replicas(etcd: EtcdServer, n: number, stateDir?: (i: number) => string, keep = false) {
  if (!keep) {
    const client = createEtcdClient(parseEtcdUrl(etcd.url));
    await client.delete().prefix('/trellis/config/');
    closeEtcdClient(client);
  }
  const stores = Array.from(
    { length: n },
    (_, i) =>
      new EtcdConfigStore({
        endpoints: parseEtcdUrl(etcd.url),
        ...(stateDir ? { stateDir: stateDir(i) } : {}),
      }),
  );
  await Promise.all(stores.map((s) => s.start()));
  return stores;
}

test('etcd store', { skip: etcdSkip, timeout: 90_000 }, async (t) => {
  const etcd = await EtcdServer.start();
  t.after(() => etcd.close());

  await t.test('a write through one replica is served by the other at the same revision', async () => {
    const [a, b] = await replicas(etcd, 2);
    t.after(async () => {
      await a?.close();
      await b?.close();
    });
    const events: ConfigEvent[] = [];
    b!.watch((e) => events.push(e));
    const result = await configWriterFor(a!)!.apply([vs('reviews', 100)]);
    assert.equal(result.applied[0]?.outcome, 'created');
    assert.equal(a!.revision >= result.revision, true, 'the writer answers once its own replica serves it');
    assert.equal(
      a!.get('VirtualService', 'default', 'reviews')?.metadata.resourceVersion,
      String(result.revision),
    );
    await eventually(() => assert.equal(b!.revision >= result.revision, true), {
      what: 'replica b catches up',
    });
    const seen = b!.get('VirtualService', 'default', 'reviews');
    assert.equal(seen?.metadata.resourceVersion, String(result.revision));
    assert.ok(seen?.metadata.creationTimestamp, 'creation time is kept');
    assert.deepEqual(
      events.map((e) => e.changes.map((c) => `${c.type} ${c.name}`)),
      [['added reviews']],
    );

    const again = await configWriterFor(b!)!.apply([vs('reviews', 100)]);
    assert.equal(again.applied[0]?.outcome, 'unchanged');
    const changed = await configWriterFor(b!)!.apply([vs('reviews', 80)]);
    assert.equal(changed.applied[0]?.outcome, 'configured');
    assert.equal(changed.applied[0]?.resource.metadata.creationTimestamp, seen?.metadata.creationTimestamp);
    await eventually(() => assert.equal(weightOf(a!.get('VirtualService', 'default', 'reviews')), 80));

    const deleted = await configWriterFor(a!)!.delete('VirtualService', 'default', 'reviews');
    assert.equal(deleted.deleted.metadata.name, 'reviews');
    await eventually(() => assert.equal(b!.get('VirtualService', 'default', 'reviews'), undefined));
    await assert.rejects(configWriterFor(a!)!.delete('VirtualService', 'default', 'reviews'), (err) =>
      isTrellisError(err, 'TRELLIS_NOT_FOUND'),
    );
  });

  await t.test('expectedVersion is compared with the mod revision; a stale one changes nothing', async () => {
    const [a, b] = await replicas(etcd, 2);
    t.after(async () => {
      await a?.close();
      await b?.close();
    });
    const wa = a!.configWriter();
    const wb = b!.configWriter();
    const first = await wa.apply([vs('ratings', 100)]);
    const v1 = first.applied[0]!.resource.metadata.resourceVersion!;
    // b writes on top of v1; a, still holding v1, then loses.
    await wb.apply([vs('ratings', 70)], {
      expectedVersions: new Map([['VirtualService/default/ratings', v1]]),
    });
    await assert.rejects(
      wa.apply([vs('ratings', 10)], { expectedVersions: new Map([['VirtualService/default/ratings', v1]]) }),
      (err) => isTrellisError(err, 'TRELLIS_CONFLICT') && /is at version \d+, not \d+/.test(err.message),
    );
    await eventually(() => assert.equal(weightOf(a!.get('VirtualService', 'default', 'ratings')), 70));
    // "0" means: must not exist yet.
    await assert.rejects(
      wa.apply([vs('ratings', 5)], { expectedVersions: new Map([['VirtualService/default/ratings', '0']]) }),
      (err) => isTrellisError(err, 'TRELLIS_CONFLICT'),
    );
    await assert.rejects(wa.delete('VirtualService', 'default', 'ratings', { expectedVersion: v1 }), (err) =>
      isTrellisError(err, 'TRELLIS_CONFLICT'),
    );
    assert.ok(a!.get('VirtualService', 'default', 'ratings'), 'a refused delete deletes nothing');
  });

  await t.test('a multi-resource apply is all or none', async () => {
    const [a, b] = await replicas(etcd, 2);
    t.after(async () => {
      await a?.close();
      await b?.close();
    });
    const wa = a!.configWriter();
    const base = await wa.apply([vs('one', 100)]);
    const v = base.applied[0]!.resource.metadata.resourceVersion!;
    await b!.configWriter().apply([vs('one', 50)]);
    const before = a!.revision;
    await assert.rejects(
      wa.apply([vs('two', 100), vs('one', 10), vs('three', 100)], {
        expectedVersions: new Map([['VirtualService/default/one', v]]),
      }),
      (err) => isTrellisError(err, 'TRELLIS_CONFLICT'),
    );
    // An invalid resource among valid ones: rejected before anything is written.
    const bad = vs('four', 100);
    (bad.spec as { http: unknown }).http = 'not a list';
    await assert.rejects(wa.apply([vs('two', 100), bad]), (err) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG'),
    );
    const listed = await b!.client.getAll().prefix('/trellis/config/VirtualService/default/').keys();
    assert.deepEqual(listed.sort(), ['/trellis/config/VirtualService/default/one']);
    assert.equal(a!.get('VirtualService', 'default', 'two'), undefined);
    assert.equal(a!.revision >= before, true);
    const ok = await wa.apply([vs('two', 100), vs('three', 100)]);
    await eventually(() => {
      assert.equal(b!.revision >= ok.revision, true);
      assert.ok(
        b!.get('VirtualService', 'default', 'two') && b!.get('VirtualService', 'default', 'three'),
        'b serves two and three',
      );
    });
    assert.equal(
      b!.get('VirtualService', 'default', 'two')?.metadata.resourceVersion,
      b!.get('VirtualService', 'default', 'three')?.metadata.resourceVersion,
      'one transaction, one revision',
    );
  });

  await t.test('an invalid stored value is a config error; the last good version keeps serving', async () => {
    const [a] = await replicas(etcd, 1);
    t.after(async () => a?.close());
    const key = '/trellis/config/VirtualService/default/broken';
    const good = await a!.configWriter().apply([vs('broken', 100)]);
    await a!.client
      .put(key)
      .value(
        '{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "broken"}, "spec": {"http": 7}}',
      );
    await eventually(() => assert.equal(a!.errors().length, 1));
    const [err] = a!.errors();
    assert.deepEqual(err?.source, { file: key, doc: 1 });
    assert.equal(err?.servingLastGood, true);
    assert.match(err.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /spec\.http|http/);
    assert.equal(
      a!.get('VirtualService', 'default', 'broken')?.metadata.resourceVersion,
      String(good.revision),
      'the last good version serves',
    );
    // A value under a key that names another resource is refused the same way.
    await a!.client
      .put('/trellis/config/VirtualService/default/elsewhere')
      .value(JSON.stringify(vs('other', 1)));
    await eventually(() =>
      assert.ok(
        a!
          .errors()
          .some(
            (e) => 'file' in e.source && e.source.file.endsWith('/elsewhere') && e.servingLastGood === false,
          ),
        'a config error for /elsewhere',
      ),
    );
    assert.equal(a!.get('VirtualService', 'default', 'other'), undefined);
    assert.equal(a!.get('VirtualService', 'default', 'elsewhere'), undefined);
    // Not JSON at all.
    await a!.client.put('/trellis/config/VirtualService/default/garbage').value('{{{ not json');
    await eventually(() => assert.equal(a!.errors().length, 3));
    // A later valid write clears the error.
    await a!.configWriter().apply([vs('broken', 40)]);
    await eventually(() => assert.equal(a!.errors().length, 2));
    assert.equal(weightOf(a!.get('VirtualService', 'default', 'broken')), 40);
    await a!.client.delete().prefix('/trellis/config/');
  });

  await t.test(
    'etcd down: writes refused within the bound, reads keep serving; back: both catch up',
    async () => {
      const [a, b] = await replicas(etcd, 2);
      t.after(async () => {
        await a?.close();
        await b?.close();
      });
      await a!.configWriter().apply([vs('steady', 100)]);
      await eventually(() => assert.ok(b!.get('VirtualService', 'default', 'steady'), 'b serves steady'));
      await etcd.stop();
      const started = Date.now();
      await assert.rejects(a!.configWriter().apply([vs('steady', 1)]), (err) => {
        assert.ok(isTrellisError(err, 'TRELLIS_STORE_UNAVAILABLE'), String(err));
        assert.match(
          err.message,
          new RegExp(`etcd at ${etcd.endpoint.replace(/\./g, '\\.')} is unreachable`),
        );
        assert.match(
          err.message,
          /writes are refused until it returns; the last state \(revision \d+\) keeps serving/,
        );
        return true;
      });
      assert.ok(Date.now() - started < 3000, `refused in ${Date.now() - started} ms`);
      await assert.rejects(b!.configWriter().delete('VirtualService', 'default', 'steady'), (err) =>
        isTrellisError(err, 'TRELLIS_STORE_UNAVAILABLE'),
      );
      assert.equal(weightOf(a!.get('VirtualService', 'default', 'steady')), 100, 'reads keep serving');
      await eventually(
        () =>
          assert.ok(
            a!.errors().some((e) => 'api' in e.source && /unreachable/.test(e.problems[0]!.message)),
            'an unreachable error',
          ),
        {
          what: 'the store reports etcd unreachable',
        },
      );

      await etcd.restart();
      const after = await eventually(async () => a!.configWriter().apply([vs('steady', 30)]), {
        what: 'a write succeeds once etcd is back',
        timeoutMs: 15_000,
        intervalMs: 200,
      });
      await eventually(
        () => {
          assert.equal(b!.revision >= after.revision, true);
          assert.equal(weightOf(b!.get('VirtualService', 'default', 'steady')), 30);
        },
        { what: 'replica b catches up by revision', timeoutMs: 10_000 },
      );
      assert.equal(a!.connected && b!.connected, true);
      assert.equal(a!.errors().length, 0);
      await a!.client.delete().prefix('/trellis/config/');
    },
  );

  await t.test('a watch whose history was compacted lists again and emits the difference', async () => {
    const { logger, lines } = memoryLogger('a');
    const client = createEtcdClient(parseEtcdUrl(etcd.url));
    await client.delete().prefix('/trellis/config/');
    const a = new EtcdConfigStore({ endpoints: parseEtcdUrl(etcd.url), logger });
    await a.start();
    const b = new EtcdConfigStore({ endpoints: parseEtcdUrl(etcd.url), client });
    await b.start();
    const held: { deaf?: { removeAllListeners(event: string): void; cancel(): Promise<void> } } = {};
    t.after(async () => {
      // The deaf watcher is left to its client: closing the client ends it (etcd3 answers a
      // cancelled watcher's late events with an unhandled 'Failed to find watcher').
      void held;
      await a.close();
      await b.close();
      closeEtcdClient(client);
    });
    await b.configWriter().apply([vs('kept', 100), vs('changed', 100), vs('removed', 100)]);
    await eventually(() => assert.equal(a.list('VirtualService').length, 3));
    // a stops hearing from etcd; meanwhile b writes and etcd compacts that history away.
    // (Its watcher stops being heard, as a lost stream would; etcd3's cancel() can wait forever.)
    const inner = a as unknown as {
      watcher?: { removeAllListeners(event: string): void; cancel(): Promise<void> };
      startWatch(): Promise<void>;
    };
    held.deaf = inner.watcher;
    held.deaf?.removeAllListeners('data');
    inner.watcher = undefined;
    await b.configWriter().apply([vs('changed', 20), vs('added', 100)]);
    const last = await b.configWriter().delete('VirtualService', 'default', 'removed');
    await client.kv.compact({ revision: String(last.revision), physical: true });
    const events: ConfigEvent[] = [];
    a.watch((e) => events.push(e));
    // Resuming from a's revision + 1 is refused by etcd (compacted): a lists again.
    await inner.startWatch();
    await eventually(() => assert.equal(a.revision >= last.revision, true), { what: 'a catches up' });
    assert.deepEqual(
      a.list('VirtualService').map((r) => `${r.metadata.name}:${weightOf(r)}`),
      ['added:100', 'changed:20', 'kept:100'],
    );
    assert.deepEqual(events.flatMap((e) => e.changes.map((c) => `${c.type} ${c.name}`)).sort(), [
      'added added',
      'deleted removed',
      'updated changed',
    ]);
    assert.ok(
      lines.some((l) => /watch was cancelled; listing again/.test(l)),
      lines.join(''),
    );
    // And the new watch carries on.
    await b.configWriter().apply([vs('later', 1)]);
    await eventually(() => assert.ok(a.get('VirtualService', 'default', 'later'), 'a serves later'));
  });

  await t.test('a replica restarted while etcd is down serves its cached state, then etcd’s', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-etcd-cache-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [a] = await replicas(etcd, 1, () => dir);
    await a!.configWriter().apply([vs('cached', 100)]);
    await a!.flushed();
    const served = a!.revision;
    await a!.close();
    await etcd.stop();
    const [again] = await replicas(etcd, 1, () => dir, true);
    t.after(async () => again?.close());
    assert.equal(again!.revision, served);
    assert.equal(weightOf(again!.get('VirtualService', 'default', 'cached')), 100);
    assert.ok(
      again!.errors().some((e) => 'api' in e.source && /from .*etcd/.test(e.problems[0]!.message)),
      'an error saying the cache serves',
    );
    await etcd.restart();
    await eventually(() => assert.equal(again!.connected, true), { timeoutMs: 10_000, what: 'reconnects' });
    const w = await again!.configWriter().apply([vs('cached', 60)]);
    assert.equal(weightOf(again!.get('VirtualService', 'default', 'cached')), 60);
    assert.ok(w.revision > served, `revision ${w.revision} > ${served}`);
    await again!.client.delete().prefix('/trellis/config/');
  });
});
