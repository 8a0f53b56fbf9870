/**
 * Replays raw client bytes against a fresh fuzz mesh in a process of its own, for inputs that
 * may stall the proxy's event loop (the caller kills this process when it does not answer):
 *   node --import tsx test/fuzz/replay.ts <base64 bytes>
 * Prints one JSON line: what the client got, then whether a good request still gets a 200.
 */
import net from 'node:net';
import { request } from '../../src/proxy/testing/harness.js';
import { startFuzzMesh } from './fuzz-mesh.js';

export interface ReplayResult {
  response: string;
  probeStatus: number;
  backendSaw: string[];
}

async function main(bytes: Buffer): Promise<void> {
  const { backend, mesh, close } = await startFuzzMesh();
  const response = await new Promise<string>((resolve) => {
    let got = '';
    const c = net.connect(mesh.port, '127.0.0.1', () => c.write(bytes));
    c.on('data', (d: Buffer) => (got += d.toString('latin1')));
    c.on('error', () => undefined);
    const done = () => {
      c.destroy();
      resolve(got);
    };
    c.on('close', done);
    setTimeout(done, 1000);
  });
  const probe = await request(mesh.port, {
    host: 'app:9080',
    path: '/public/ok',
    headers: { 'x-fuzz-id': 'probe' },
  });
  const result: ReplayResult = {
    response,
    probeStatus: probe.status,
    backendSaw: backend.seen.map((s) => `${s.method} ${s.path}`),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  await close();
}

if (process.argv[2] !== undefined) await main(Buffer.from(process.argv[2], 'base64'));
