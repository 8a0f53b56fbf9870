import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminTarget, parseIpPort, peerIp } from './admin-address.js';

test('parseIpPort accepts only IP:PORT', () => {
  const table: [string, { ip: string; port: number } | undefined][] = [
    ['127.0.0.1:15000', { ip: '127.0.0.1', port: 15000 }],
    ['[::1]:15000', { ip: '::1', port: 15000 }],
    ['10.0.0.7:1', { ip: '10.0.0.7', port: 1 }],
    ['10.0.0.7:65535', { ip: '10.0.0.7', port: 65535 }],
    ['10.0.0.7:0', undefined],
    ['10.0.0.7:65536', undefined],
    ['10.0.0.7', undefined],
    ['evil:80', undefined],
    ['evil:80/x#', undefined],
    ['127.0.0.1:80/x#', undefined],
    ['127.0.0.1:80@evil', undefined],
    ['user@127.0.0.1:80', undefined],
    ['::1:15000', undefined],
    ['[evil]:80', undefined],
    ['x[::1]:15000', undefined],
    ['[::1]:15000x', undefined],
    ['[::1]:15000/x', undefined],
    ['999.0.0.1:80', undefined],
    ['127.0.0.1:+80', undefined],
    ['', undefined],
  ];
  for (const [input, want] of table) assert.deepEqual(parseIpPort(input), want, input);
});

test('peerIp reads the forms an xDS stream names its peer in', () => {
  const table: [string, string | undefined][] = [
    ['127.0.0.1:5555', '127.0.0.1'],
    ['::1:5555', '::1'],
    ['::ffff:10.0.0.2:5555', '::ffff:10.0.0.2'],
    ['ipv4:10.0.0.2:5555', '10.0.0.2'],
    ['ipv6:[fe80::1]:5555', 'fe80::1'],
    ['10.0.0.2', '10.0.0.2'],
    ['unknown', undefined],
    ['', undefined],
    ['x[::1]:5555', undefined],
    ['[::1]:5555x', undefined],
    ['[host]:5555', undefined],
    ['host:5555', undefined],
    ['10.0.0.2:55x', undefined],
    ['10.0.0.2:', undefined],
    [':5555', undefined],
  ];
  for (const [input, want] of table) assert.equal(peerIp(input), want, input);
});

test('adminTarget dials only the proxy’s own machine', () => {
  const table: [string, string, string | undefined][] = [
    // [reported, peer, base or undefined (refused)]
    ['127.0.0.1:15000', '127.0.0.1:40000', 'http://127.0.0.1:15000'],
    ['[::1]:15000', '::1:40000', 'http://[::1]:15000'],
    ['127.0.0.1:15000', 'unknown', 'http://127.0.0.1:15000'],
    ['0.0.0.0:15000', '127.0.0.1:40000', 'http://127.0.0.1:15000'],
    ['0.0.0.0:15000', 'unknown', 'http://127.0.0.1:15000'],
    ['[::1]:15000', '127.0.0.1:40000', 'http://[::1]:15000'],
    ['127.0.0.2:15000', '::ffff:127.0.0.1:40000', 'http://127.0.0.2:15000'],
    ['[::ffff:127.0.0.1]:15000', '10.0.0.2:40000', undefined],
    ['[::ffff:10.0.0.2]:15000', '10.0.0.2:40000', 'http://[::ffff:10.0.0.2]:15000'],
    ['0.0.0.0:15000', '10.0.0.2:40000', 'http://10.0.0.2:15000'],
    ['[::]:15000', '::1:40000', 'http://[::1]:15000'],
    ['10.0.0.2:15000', '10.0.0.2:40000', 'http://10.0.0.2:15000'],
    ['10.0.0.2:15000', '::ffff:10.0.0.2:40000', 'http://10.0.0.2:15000'],
    // A remote proxy naming loopback would have the control plane call itself.
    ['127.0.0.1:6379', '10.0.0.2:40000', undefined],
    ['10.0.0.3:15000', '10.0.0.2:40000', undefined],
    ['169.254.169.254:80', '10.0.0.2:40000', undefined],
    ['10.0.0.3:15000', '127.0.0.1:40000', undefined],
    ['evil:80/x#', '127.0.0.1:40000', undefined],
    ['', '127.0.0.1:40000', undefined],
  ];
  for (const [reported, peer, want] of table) {
    const got = adminTarget(reported, peer);
    assert.equal(got.ok, want !== undefined, `${reported} from ${peer}`);
    assert.equal(got.ok ? got.base : undefined, want, `${reported} from ${peer}`);
    if (!got.ok) assert.ok(got.reason.length > 10);
  }
  const refused = adminTarget('evil:80/x#', '127.0.0.1:1');
  assert.ok(!refused.ok && /not IP:PORT/.test(refused.reason));
  const none = adminTarget('', '127.0.0.1:1');
  assert.ok(!none.ok && /reported no ADMIN_ADDRESS/.test(none.reason));
  const far = adminTarget('10.0.0.3:1', 'a-pipe');
  assert.ok(!far.ok && /comes from \(a-pipe\)/.test(far.reason));
  const long = adminTarget(`${'h'.repeat(500)}:1`, '127.0.0.1:1');
  assert.ok(!long.ok && long.reason.length < 200);
});
