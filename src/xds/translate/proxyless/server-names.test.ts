import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerListenerName, serverListenerName } from './server-names.js';

test('server listener names: what parses and what does not', () => {
  const P = 'xds.istio.io/grpc/lds/inbound/';
  const cases: [string, { address: string; port: number } | undefined][] = [
    [`${P}0.0.0.0:50051`, { address: '0.0.0.0', port: 50051 }],
    [`${P}127.0.0.1:1`, { address: '127.0.0.1', port: 1 }],
    [`${P}[::]:65535`, { address: '::', port: 65535 }],
    [`${P}[fe80::1]:80`, { address: 'fe80::1', port: 80 }],
    [`${P}0.0.0.0:0`, undefined],
    [`${P}0.0.0.0:65536`, undefined],
    [`${P}0.0.0.0:123456`, undefined],
    [`${P}0.0.0.0:`, undefined],
    [`${P}:80`, undefined],
    [`${P}::1:80`, undefined],
    [`${P}[1.2.3.4]:80`, undefined],
    [`${P}host.example:80`, undefined],
    [`${P}1.2.3.4:80 `, undefined],
    [`${P}1.2.3.999:80`, undefined],
    ['echo.default.svc.cluster.local:80', undefined],
    [`XDS.ISTIO.IO/grpc/lds/inbound/1.2.3.4:80`, undefined],
  ];
  for (const [name, expected] of cases) assert.deepEqual(parseServerListenerName(name), expected, name);
  assert.equal(serverListenerName('10.0.0.1', 80), `${P}10.0.0.1:80`);
  assert.equal(serverListenerName('::1', 80), `${P}[::1]:80`);
});
