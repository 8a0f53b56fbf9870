import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { inspectClientHello } from './client-hello.js';

/** The first bytes a real TLS client (node's OpenSSL) sends. */
async function clientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const first = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          resolve(all);
          socket.destroy();
        }
      });
    });
  });
  const client = tls.connect({ port, host: '127.0.0.1', ...options });
  client.on('error', () => undefined);
  const bytes = await first;
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return bytes;
}

test('SNI and ALPN are read from a real ClientHello; plain text is told apart at the first byte', async () => {
  const hello = await clientHello({ servername: 'Shop.Example.com', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(inspectClientHello(hello), {
    kind: 'tls',
    serverName: 'shop.example.com',
    alpn: ['h2', 'http/1.1'],
  });
  // Any prefix of it needs more bytes, never a wrong answer.
  for (const n of [1, 3, 5, 40, hello.length - 1])
    assert.deepEqual(inspectClientHello(hello.subarray(0, n)), { kind: 'need-more' }, `prefix ${n}`);
  // No SNI (an IP address as servername sends none) and no ALPN.
  assert.deepEqual(inspectClientHello(await clientHello({ servername: '' })), { kind: 'tls', alpn: [] });
  assert.deepEqual(inspectClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'plaintext' });
  assert.deepEqual(inspectClientHello(Buffer.from('PRI * HTTP/2.0\r\n')), { kind: 'plaintext' });
});

test('a ClientHello split over two records is reassembled; garbage after a handshake byte is TLS without SNI', async () => {
  const hello = await clientHello({ servername: 'a.example.com' });
  const body = hello.subarray(5);
  const cut = 30;
  const record = (payload: Buffer) =>
    Buffer.concat([Buffer.from([0x16, 0x03, 0x01, payload.length >> 8, payload.length & 0xff]), payload]);
  const split = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
  assert.deepEqual(inspectClientHello(split.subarray(0, 5 + cut + 2)), { kind: 'need-more' });
  assert.equal((inspectClientHello(split) as { serverName?: string }).serverName, 'a.example.com');
  assert.deepEqual(inspectClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0])), {
    kind: 'tls',
    alpn: [],
  });
});
