import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/clock.js';
import type { ProxyStatus } from '../xds/server/status.js';
import { convergence, describeLag, revisionOfVersion, runningRevision } from './convergence.js';
import { ConvergenceTracker } from './convergence-tracker.js';

type TypeRow = ProxyStatus['types'][string];

function type(runningVersion: string, over: Partial<TypeRow> = {}): TypeRow {
  return {
    status: 'SYNCED',
    lastSentVersion: runningVersion,
    lastSentNonce: '1',
    lastAckedVersion: runningVersion,
    lastAckedNonce: '1',
    runningVersion,
    resources: 1,
    ...over,
  };
}

function proxy(workload: string, types: ProxyStatus['types']): ProxyStatus {
  return {
    proxy: `sidecar~127.0.0.1~${workload}.default~default.svc.cluster.local`,
    type: 'sidecar',
    namespace: 'default',
    workloadName: workload,
    proxyVersion: '',
    adminAddress: '',
    mode: 'sotw',
    peer: '',
    connectedAt: '',
    pushContextVersion: '',
    types,
  };
}

test('revisionOfVersion reads the store revision of a push version', () => {
  const table: [string, number][] = [
    ['12.4f3a', 12],
    ['7', 7],
    ['0.x', 0],
    ['', -1],
    ['v1', -1],
    ['-3.1', -1],
  ];
  for (const [v, want] of table) assert.equal(revisionOfVersion(v), want, v);
});

test('runningRevision is the oldest routing type a proxy runs; SDS does not count', () => {
  assert.equal(runningRevision(proxy('a', { CDS: type('5.1'), EDS: type('4.1'), LDS: type('6.0') })), 4);
  assert.equal(runningRevision(proxy('a', { CDS: type('5.1'), SDS: type('') })), 5);
  assert.equal(runningRevision(proxy('a', { CDS: type('') })), -1, 'nothing ACKed yet');
  assert.equal(runningRevision(proxy('a', {})), -1, 'nothing subscribed');
});

test('convergence: in effect only when every proxy runs the revision on every routing type', () => {
  const cases: {
    name: string;
    proxies: ProxyStatus[];
    want: { inEffect: boolean; lagging: [string, string, RegExp][] };
  }[] = [
    {
      name: 'all at or past the revision',
      proxies: [proxy('a', { CDS: type('5.0'), EDS: type('6.0') }), proxy('b', { CDS: type('9.2') })],
      want: { inEffect: true, lagging: [] },
    },
    {
      name: 'no proxies: in effect (nothing to wait for)',
      proxies: [],
      want: { inEffect: true, lagging: [] },
    },
    {
      name: 'one type behind is pending, naming the type and what it runs',
      proxies: [proxy('a', { CDS: type('5.0'), EDS: type('4.0', { status: 'STALE' }) })],
      want: {
        inEffect: false,
        lagging: [['a.default', 'pending', /EDS not ACKed at revision 5 \(runs revision 4\)/]],
      },
    },
    {
      name: 'a NACK is reported with its message',
      proxies: [
        proxy('b', {
          CDS: type('3.0', {
            status: 'NACK',
            lastNack: { version: '5.0', nonce: '2', message: 'unknown field foo', at: '' },
          }),
        }),
      ],
      want: { inEffect: false, lagging: [['b.default', 'nack', /rejected CDS: unknown field foo/]] },
    },
    {
      name: 'a NACK of a later push does not matter once the revision runs',
      proxies: [
        proxy('b', {
          CDS: type('5.0', {
            status: 'NACK',
            lastNack: { version: '6.0', nonce: '2', message: 'x', at: '' },
          }),
        }),
      ],
      want: { inEffect: true, lagging: [] },
    },
    {
      name: 'a proxy that has not subscribed yet is pending',
      proxies: [proxy('c', {})],
      want: { inEffect: false, lagging: [['c.default', 'pending', /has not subscribed/]] },
    },
    {
      name: 'nothing ACKed yet',
      proxies: [proxy('c', { LDS: type('', { status: 'STALE' }) })],
      want: { inEffect: false, lagging: [['c.default', 'pending', /runs no config yet/]] },
    },
  ];
  for (const c of cases) {
    const r = convergence(5, c.proxies);
    assert.equal(r.inEffect, c.want.inEffect, c.name);
    assert.equal(r.lagging.length, c.want.lagging.length, c.name);
    c.want.lagging.forEach(([name, reason, detail], i) => {
      assert.equal(r.lagging[i]?.name, name, c.name);
      assert.equal(r.lagging[i]?.reason, reason, c.name);
      assert.match(r.lagging[i]?.detail ?? '', detail, c.name);
    });
  }
});

test('convergence: a disconnected proxy lags until it comes back or is forgotten', () => {
  const clock = new FakeClock(1_000);
  const tracker = new ConvergenceTracker({ clock, forgetAfterMs: 10_000 });
  const a = proxy('a', { CDS: type('5.0') });
  const b = proxy('b', { CDS: type('5.0') });
  assert.equal(tracker.report(5, [a, b]).inEffect, true);
  clock.advance(1_000);
  const r = tracker.report(5, [a]);
  assert.equal(r.inEffect, false);
  assert.equal(r.proxies, 2);
  assert.deepEqual(describeLag(r), [
    'b.default: disconnected: disconnected at 1970-01-01T00:00:02.000Z and has not come back',
  ]);
  assert.equal(tracker.report(5, [a, b]).inEffect, true, 'back again');
  tracker.report(5, [a]);
  clock.advance(10_001);
  assert.equal(tracker.report(5, [a]).inEffect, true, 'forgotten after forgetAfterMs');
});

test('ConvergenceTracker maps a store revision to the first served revision holding it', () => {
  const tracker = new ConvergenceTracker({ clock: new FakeClock() });
  tracker.served(3, 3);
  tracker.served(5, 3); // the Router layer wrote twice
  tracker.served(7, 4);
  tracker.served(7, 4);
  assert.equal(tracker.servedRevisionFor(2), 3);
  assert.equal(tracker.servedRevisionFor(3), 3);
  assert.equal(tracker.servedRevisionFor(4), 7);
  assert.equal(tracker.servedRevisionFor(5), undefined, 'not served yet');
});
