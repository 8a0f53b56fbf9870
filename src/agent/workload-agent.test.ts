import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CertificateAuthority } from '../ca/authority.js';
import { FakeClock } from '../core/clock.js';
import { memoryLogger } from '../core/logger.js';
import { eventually } from '../core/testing/eventually.js';
import { WorkloadAgent } from './workload-agent.js';
import { issueWorkloadCertificate, manualSource } from './testing/certificates.js';
import { SdsTestClient } from './testing/sds-client.js';

let dir: string;
let ca: CertificateAuthority;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-agent-unit-'));
  ca = await CertificateAuthority.create();
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const workload = {
  namespace: 'default',
  workloadName: 'web',
  labels: {},
  instanceIps: ['127.0.0.1'],
  locality: '',
};
const exists = (f: string) =>
  fs.stat(f).then(
    () => true,
    () => false,
  );

test('Envoy bootstrap at once; files and the gRPC bootstrap with the first certificate; files again on renewal', async () => {
  const source = manualSource();
  const base = path.join(dir, 'all');
  const agent = await WorkloadAgent.start({
    certificates: source,
    clock: new FakeClock(Date.now()),
    logger: memoryLogger().logger,
    sdsSocket: path.join(base, 'sds.sock'),
    envoyBootstrap: {
      file: path.join(base, 'envoy.json'),
      options: { workload, xds: { host: '127.0.0.1', port: 15010 } },
    },
    certDir: path.join(base, 'certs'),
    grpcBootstrap: {
      file: path.join(base, 'grpc.json'),
      options: { workload, xdsAddress: '127.0.0.1:15010' },
    },
  });
  const sds = new SdsTestClient(path.join(base, 'sds.sock'));
  try {
    const envoy = JSON.parse(await fs.readFile(path.join(base, 'envoy.json'), 'utf8')) as {
      static_resources: {
        clusters: {
          load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: unknown } }[] }[] };
        }[];
      };
    };
    assert.deepEqual(
      envoy.static_resources.clusters[0]?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address,
      {
        pipe: { path: path.join(base, 'sds.sock') },
      },
    );
    assert.equal(
      await exists(path.join(base, 'grpc.json')),
      false,
      'no gRPC bootstrap before the files it names',
    );
    assert.equal(await exists(path.join(base, 'certs')), false);

    const first = await issueWorkloadCertificate(ca);
    source.rotate(first);
    assert.equal(await agent.ready, first);
    assert.equal(await fs.readFile(path.join(base, 'certs', 'key.pem'), 'utf8'), first.privateKeyPem);
    const grpcBoot = JSON.parse(await fs.readFile(path.join(base, 'grpc.json'), 'utf8')) as {
      certificate_providers: { default: { config: { refresh_interval: string } } };
    };
    // A 24 h certificate: Istio's 15 minutes.
    assert.equal(grpcBoot.certificate_providers.default.config.refresh_interval, '900s');
    const bootInode = (await fs.stat(path.join(base, 'grpc.json'))).ino;
    assert.equal((await sds.fetch(['default'])).secrets.size, 1, 'SDS serves the same certificate');

    const second = await issueWorkloadCertificate(ca);
    source.rotate(second);
    await eventually(() => assert.equal(agent.certificatesWritten, 2));
    assert.equal(await fs.readFile(path.join(base, 'certs', 'key.pem'), 'utf8'), second.privateKeyPem);
    assert.equal(
      (await fs.stat(path.join(base, 'grpc.json'))).ino,
      bootInode,
      'the bootstrap is written once',
    );
  } finally {
    sds.close();
    await agent.close();
  }
  assert.equal(await exists(path.join(base, 'sds.sock')), false);
});

test('files that cannot be written fail the first certificate with the flag to change; nothing half-started is left', async () => {
  const blocked = path.join(dir, 'blocked');
  await fs.writeFile(blocked, 'not a directory');
  const source = manualSource();
  const { logger, lines } = memoryLogger();
  const agent = await WorkloadAgent.start({
    certificates: source,
    clock: new FakeClock(0),
    logger,
    certDir: path.join(blocked, 'certs'),
  });
  try {
    source.rotate(await issueWorkloadCertificate(ca));
    await assert.rejects(agent.ready, /--cert-dir .*blocked\/certs: cannot write the certificate files/);
    assert.ok(lines.some((l) => /next renewal tries again/.test(l)));
    assert.equal(agent.certificatesWritten, 0);
  } finally {
    await agent.close();
  }
  await assert.rejects(
    WorkloadAgent.start({
      certificates: manualSource(),
      clock: new FakeClock(0),
      logger,
      sdsSocket: path.join(dir, 'blocked-sds', 'socket'),
      envoyBootstrap: {
        file: path.join(blocked, 'envoy.json'),
        options: { workload, xds: { host: '127.0.0.1', port: 1 } },
      },
    }),
    /--envoy-bootstrap .*blocked\/envoy\.json: cannot write it \(EEXIST\); choose a path this user can write/,
  );
  assert.equal(
    await exists(path.join(dir, 'blocked-sds', 'socket')),
    false,
    'the SDS socket is closed again',
  );
  await assert.rejects(
    WorkloadAgent.start({
      certificates: manualSource(),
      clock: new FakeClock(0),
      logger,
      envoyBootstrap: {
        file: path.join(dir, 'e.json'),
        options: { workload, xds: { host: '127.0.0.1', port: 1 } },
      },
    }),
    /--envoy-bootstrap needs --sds-socket/,
  );
});
