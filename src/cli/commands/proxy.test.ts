import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAds } from '../../proxy/testing/fake-ads.js';
import {
  edsCluster,
  endpoints,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../../proxy/testing/resources.js';
import { main } from '../main.js';

test('trellis proxy connects, reports ready, and exits 0 on SIGTERM', async (t) => {
  const ads = await FakeAds.start();
  t.after(() => ads.close());
  const C = 'outbound|9080||reviews.default.svc.cluster.local';
  ads.set('CDS', [edsCluster(C)]);
  ads.set('EDS', [endpoints(C, [{ port: 1 }])]);
  ads.set('LDS', [httpListener(9080)]);
  ads.set('RDS', [routeConfig('9080', [virtualHost('r', ['*'], [routeTo(C)])])]);
  const out: string[] = [];
  let sawReady!: () => void;
  const ready = new Promise<void>((r) => (sawReady = r));
  const io = {
    stdout: (s: string) => {
      out.push(s);
      if (s.startsWith('proxy ready')) sawReady();
    },
    stderr: (s: string) => void out.push(s),
    env: { TRELLIS_LOG_LEVEL: 'silent' },
    cwd: process.cwd(),
  };
  const exit = main(
    [
      'proxy',
      '--xds',
      ads.address,
      '--workload',
      'productpage-v1',
      '--labels',
      'app=productpage,version=v1',
      '--admin-port',
      '0',
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--drain-seconds',
      '1',
    ],
    io,
  );
  await ready;
  assert.ok(out.some((l) => l.includes('connected to control plane')));
  assert.equal(
    ads.requests[0]?.node?.id,
    'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local',
  );
  process.emit('SIGTERM');
  assert.equal(await exit, 0);
  assert.ok(out.some((l) => l.includes('proxy: stopped')));
});

test('trellis proxy rejects bad flags with exit code 2', async () => {
  const err: string[] = [];
  const io = {
    stdout: () => undefined,
    stderr: (s: string) => void err.push(s),
    env: {},
    cwd: process.cwd(),
  };
  assert.equal(await main(['proxy'], io), 2);
  assert.match(err.join(''), /--xds-address HOST:PORT is required/);
  assert.equal(await main(['proxy', '--xds', '127.0.0.1:1', '--labels', 'novalue'], io), 2);
  assert.equal(await main(['proxy', '--xds', '127.0.0.1:1', '--xds-protocol', 'incremental'], io), 2);
  assert.match(err.join(''), /--xds-protocol "incremental": expected auto, delta or sotw/);
  assert.equal(await main(['proxy', '--xds', '127.0.0.1:1', '--concurrency', '0'], io), 2);
  assert.match(err.join(''), /--concurrency 0: expected 1 or more/);
  assert.equal(
    await main(['proxy', '--xds', '127.0.0.1:1', '--credential-file', '/nonexistent/cred'], io),
    2,
  );
  assert.match(err.join(''), /--credential-file \/nonexistent\/cred: cannot read it \(ENOENT\)/);
  assert.equal(await main(['proxy', '--xds', '127.0.0.1:1', '--ca-address', '127.0.0.1:2'], io), 2);
  assert.match(err.join(''), /--ca-address needs --credential-file/);
  assert.equal(
    await main(
      ['proxy', '--xds', '127.0.0.1:1', '--credential-file', 'package.json', '--ca-address', 'x:y'],
      io,
    ),
    2,
  );
  assert.match(err.join(''), /--ca-address x:y: expected HOST:PORT/);
});
