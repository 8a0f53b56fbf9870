/**
 * A `--concurrency N` worker serves mesh mTLS with the certificate the primary sends over IPC,
 * and takes its rotations: an in-process ProxyWorker fed the messages a primary sends (the
 * certificate, then the config the primary accepted), serving a STRICT inbound listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { silentLogger } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { eventually } from '../../core/testing/eventually.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { startBackend } from '../testing/harness.js';
import {
  appCluster,
  CertificateAuthority,
  inboundListener,
  workloadCertificate,
} from '../testing/mesh-tls.js';
import { XdsResourceCache } from '../xds-client/resource-cache.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import { fromWire, toWire as certificateToWire } from './certificate-relay.js';
import { toWire } from './config-replica.js';
import type { PrimaryMessage, WorkerMessage } from './ipc.js';
import { ProxyWorker } from './worker.js';

const INBOUND = 'inbound|9080||';

/** The fingerprint of the certificate the server presents, or the error of a refused handshake. */
async function handshake(port: number, client: WorkloadCertificate): Promise<string> {
  return await new Promise<string>((resolve) => {
    const s = tls.connect(
      {
        port,
        host: '127.0.0.1',
        cert: client.certChainPem,
        key: client.privateKeyPem,
        ca: client.rootCertsPem,
        ALPNProtocols: ['istio-http/1.1'],
        checkServerIdentity: () => undefined,
      },
      () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'),
    );
    s.once('data', (d: Buffer) => {
      resolve(
        /^HTTP\/1\.1 200/.test(d.toString())
          ? (s.getPeerX509Certificate()?.fingerprint256 ?? '')
          : d.toString(),
      );
      s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    s.on('close', () => resolve('closed'));
  });
}

test('a worker serves mTLS with the certificate the primary sends, and its rotations', async (t) => {
  const ca = await CertificateAuthority.create();
  const backend = await startBackend('app');
  // What the primary accepted (it has a workload certificate source).
  const cache = new XdsResourceCache(() => 1000, { workloadCertificates: true });
  for (const [type, resources] of [
    [TYPE.cluster, [appCluster(INBOUND, backend.port)]],
    [TYPE.listener, [inboundListener(0, INBOUND, { mode: 'STRICT' })]],
  ] as const) {
    const out = cache.handleResponse({
      type_url: type,
      version_info: '1',
      nonce: '1',
      resources: resources.map((r) => packAny(type, r)),
    });
    assert.equal(out.kind, 'ack');
  }
  let handler: (m: unknown) => void = () => undefined;
  const sent: WorkerMessage[] = [];
  const worker = new ProxyWorker({
    proxy: {
      xds: 'unused:0',
      bootstrap: {
        nodeId: 'sidecar~127.0.0.1~reviews.default~default.svc.cluster.local',
        cluster: 'reviews.default',
        mode: 'sidecar',
        namespace: 'default',
        workloadName: 'reviews-v1',
        labels: {},
        instanceIps: ['127.0.0.1'],
        locality: '',
      },
      version: 'test',
      bindAddress: '127.0.0.1',
      adminAddress: '127.0.0.1',
      adminPort: 0,
      outboundPort: 0,
      inboundPort: 0,
      bindListeners: [0],
      clock: {
        now: () => performance.now(),
        wallNow: () => Date.now(),
        setTimeout: (fn, ms) => {
          const h = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(h) };
        },
      },
      random: seededRandom(1),
      logger: silentLogger,
    },
    channel: { send: (m) => sent.push(m), onMessage: (h) => (handler = h), close: () => undefined },
  });
  t.after(async () => {
    await worker.stop(100);
    await backend.close();
  });
  worker.start();
  assert.deepEqual(sent, [{ kind: 'trellis.hello' }]);
  const first = await workloadCertificate(ca, 'reviews');
  const primary = (m: PrimaryMessage) => handler(JSON.parse(JSON.stringify(m)));
  primary({ kind: 'trellis.certificate', certificate: certificateToWire(first) });
  primary({ kind: 'trellis.config', seq: 1, types: toWire(cache.snapshot(), cache.snapshot().received) });
  await eventually(
    () => sent.some((m) => m.kind === 'trellis.applied' && m.ready),
    'worker applied and ready',
  );
  const port = await eventually(
    () => worker.proxy.listeners.ports.byListener.get('virtualInbound_0') ?? false,
  );
  const caller = await workloadCertificate(ca, 'productpage');
  const fp = (c: WorkloadCertificate) => new X509Certificate(c.certChainPem).fingerprint256;
  assert.equal(await handshake(port, caller), fp(first));

  const second = await workloadCertificate(ca, 'reviews');
  primary({ kind: 'trellis.certificate', certificate: certificateToWire(second) });
  assert.equal(await handshake(port, caller), fp(second));
  // A malformed certificate message changes nothing.
  handler({ kind: 'trellis.certificate', certificate: { certChainPem: 42 } });
  assert.equal(await handshake(port, caller), fp(second));
  // A caller from another mesh is refused by the worker too.
  const stranger = await workloadCertificate(await CertificateAuthority.create(), 'productpage');
  assert.match(await handshake(port, stranger), /^(error|closed)/);
});

test('the certificate survives the IPC round trip; a malformed one is refused', async () => {
  const cert = await workloadCertificate(await CertificateAuthority.create(), 'reviews');
  assert.deepEqual(
    fromWire(JSON.parse(JSON.stringify(certificateToWire(cert))) as ReturnType<typeof certificateToWire>),
    cert,
  );
  assert.throws(
    () => fromWire({ ...certificateToWire(cert), privateKeyPem: '' }),
    /certificate\.privateKeyPem/,
  );
  assert.throws(() => fromWire({ ...certificateToWire(cert), notAfter: 'soon' }), /ISO dates/);
});
