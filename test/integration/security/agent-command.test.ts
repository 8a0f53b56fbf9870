/**
 * `trellis agent` run as a user runs it, against a control plane with its CA: SDS over the Unix
 * socket with Istio's names, an Envoy bootstrap the control plane reads as a sidecar, the exit
 * codes and lines a person sees when the credential is refused or expired or the CA is down, and
 * a data-plane command run under the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { checkEnvoyBootstrapJson } from '../../../src/agent/envoy-bootstrap.js';
import { SdsTestClient } from '../../../src/agent/testing/sds-client.js';
import { FakeClock } from '../../../src/core/clock.js';
import { loadCaState } from '../../../src/controlplane/ca-service-state.js';
import { parseNode } from '../../../src/xds/node.js';
import { runTrellis, startTrellis } from '../helpers/process.js';
import { startCaMesh, tempDir } from './ca-helpers.js';

const SOCKET = 'var/run/secrets/workload-spiffe-uds/socket';

test('trellis agent: SDS on the default socket, an Envoy bootstrap for it, SIGTERM stops it', async () => {
  const dir = await tempDir('trellis-agent-');
  const mesh = await startCaMesh();
  const credential = path.join(dir, 'cred.jwt');
  await fs.writeFile(
    credential,
    await mesh.ca.credentials.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' }),
  );
  const agent = startTrellis(
    [
      'agent',
      '--credential-file',
      'cred.jwt',
      '--ca-address',
      mesh.address,
      '--envoy-bootstrap',
      'envoy.json',
      '--labels',
      'app=cart,version=v2',
      '--admin-port',
      '15100',
    ],
    { cwd: dir },
  );
  const client = new SdsTestClient(path.join(dir, SOCKET));
  try {
    await agent.waitForOutput(
      /agent ready: workload certificate spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart, valid until \S+; SDS on \S+socket, Envoy bootstrap \S+envoy\.json/,
    );

    const s = client.stream();
    s.subscribe(['default', 'ROOTCA'], 'sidecar~127.0.0.1~cart.shop~shop.svc.cluster.local');
    const r = await s.next();
    const chain =
      r.secrets.get('default')?.tls_certificate?.certificate_chain?.inline_bytes?.toString() ?? '';
    const key = r.secrets.get('default')?.tls_certificate?.private_key?.inline_bytes?.toString() ?? '';
    const leaf = new X509Certificate(chain);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(key)), "the key the agent made is the certificate's");
    assert.match(leaf.subjectAltName ?? '', /URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    const roots = r.secrets.get('ROOTCA')?.validation_context?.trusted_ca?.inline_bytes?.toString() ?? '';
    assert.equal(roots, mesh.ca.authority.trustBundle().join(''));
    s.ack(r.raw, ['default', 'ROOTCA']);
    s.close();

    const text = await fs.readFile(path.join(dir, 'envoy.json'), 'utf8');
    assert.deepEqual(checkEnvoyBootstrapJson(text), [], 'a bootstrap Envoy loads');
    const boot = JSON.parse(text) as {
      node: { id: string; cluster: string; metadata: Record<string, unknown> };
      admin: { address: { socket_address: { port_value: number } } };
      static_resources: {
        clusters: {
          name: string;
          load_assignment: {
            endpoints: {
              lb_endpoints: { endpoint: { address: Record<string, Record<string, unknown>> } }[];
            }[];
          };
        }[];
      };
    };
    // What the control plane makes of Envoy's node.
    const { jsonToStruct } = await import('../../../src/xds/node.js');
    const node = parseNode({
      id: boot.node.id,
      cluster: boot.node.cluster,
      metadata: jsonToStruct(boot.node.metadata),
    });
    assert.equal(node.type, 'sidecar');
    assert.equal(node.namespace, 'shop');
    assert.equal(node.workloadName, 'cart');
    assert.deepEqual(node.labels, { app: 'cart', version: 'v2' });
    assert.equal(boot.admin.address.socket_address.port_value, 15100);
    const address = (name: string) =>
      boot.static_resources.clusters.find((c) => c.name === name)?.load_assignment.endpoints[0]
        ?.lb_endpoints[0]?.endpoint.address;
    assert.deepEqual(address('sds-grpc'), { pipe: { path: path.join(dir, SOCKET) } });
    assert.deepEqual(address('xds-grpc'), {
      socket_address: { address: '127.0.0.1', port_value: Number(mesh.address.split(':')[1]) },
    });
    assert.equal(await agent.stop('SIGTERM'), 0);
    assert.match(agent.stdout(), /agent: SIGTERM, stopped/);
    await assert.rejects(fs.stat(path.join(dir, SOCKET)), 'the socket is removed');
  } finally {
    client.close();
    await agent.stop();
    await mesh.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('trellis agent: a credential the CA refuses, or one that expired, exits 1 saying what to do', async () => {
  const dir = await tempDir('trellis-agent-bad-');
  const mesh = await startCaMesh();
  // Another control plane's credential: well formed, not ours.
  const other = await loadCaState({ stateDir: path.join(dir, 'other') });
  await fs.writeFile(
    path.join(dir, 'foreign.jwt'),
    await other.credentials.issue({ namespace: 'shop', serviceAccount: 'cart', kind: 'workload' }),
  );
  const past = new FakeClock(Date.now() - 3600_000);
  const old = await loadCaState({ stateDir: path.join(dir, 'old'), clock: past });
  await fs.writeFile(
    path.join(dir, 'expired.jwt'),
    await old.credentials.issue({
      namespace: 'shop',
      serviceAccount: 'cart',
      kind: 'workload',
      ttlSeconds: 60,
    }),
  );
  await fs.writeFile(path.join(dir, 'junk.jwt'), 'not a token');
  try {
    const foreign = await runTrellis(
      ['agent', '--credential-file', 'foreign.jwt', '--ca-address', mesh.address, '--cert-dir', 'certs'],
      { cwd: dir },
    );
    assert.equal(foreign.code, 1, foreign.stderr);
    assert.match(
      foreign.stderr,
      /refused the credential in --credential-file foreign\.jwt: UNAUTHENTICATED: .*; get a new one \(`trellis token create`\)/,
    );
    await assert.rejects(fs.stat(path.join(dir, 'certs', 'key.pem')), 'no files for a refused workload');

    const expired = await runTrellis(
      ['agent', '--credential-file', 'expired.jwt', '--ca-address', mesh.address],
      { cwd: dir },
    );
    assert.equal(expired.code, 1);
    assert.match(
      expired.stderr,
      /--credential-file expired\.jwt: it expired at \S+; get a new one \(`trellis token create --namespace shop --service-account cart`\)/,
    );

    const junk = await runTrellis(['agent', '--credential-file', 'junk.jwt', '--ca-address', mesh.address], {
      cwd: dir,
    });
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /--credential-file junk\.jwt: it is not a Trellis credential/);

    const missing = await runTrellis(['agent', '--ca-address', mesh.address], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--credential-file F is required/);
    const noFile = await runTrellis(
      ['agent', '--credential-file', 'nope.jwt', '--ca-address', mesh.address],
      { cwd: dir },
    );
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /--credential-file nope\.jwt: cannot read it \(ENOENT\)/);
  } finally {
    await mesh.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

test('trellis agent: while the CA is unreachable it says so and keeps trying; it gets the certificate when the CA comes', async () => {
  const dir = await tempDir('trellis-agent-down-');
  const port = await closedPort();
  const stateDir = path.join(dir, 'state');
  const state = await loadCaState({ stateDir });
  await fs.writeFile(
    path.join(dir, 'cred.jwt'),
    await state.credentials.issue({ namespace: 'default', serviceAccount: 'web', kind: 'workload' }),
  );
  const agent = startTrellis(
    ['agent', '--credential-file', 'cred.jwt', '--ca-address', `127.0.0.1:${port}`, '--cert-dir', 'certs'],
    { cwd: dir },
  );
  let mesh: Awaited<ReturnType<typeof startCaMesh>> | undefined;
  try {
    await agent.waitForOutput(
      /no certificate yet from the CA at 127\.0\.0\.1:\d+ \(attempt 1: UNAVAILABLE.*\); retrying with backoff - check --ca-address/,
    );
    mesh = await startCaMesh({ stateDir, port });
    await agent.waitForOutput(
      /agent ready: workload certificate spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/,
      20_000,
    );
    const st = await fs.stat(path.join(dir, 'certs', 'key.pem'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(await agent.stop('SIGINT'), 0);
  } finally {
    await agent.stop();
    await mesh?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('trellis agent -- COMMAND: runs it once the files are written, with GRPC_XDS_BOOTSTRAP, and exits with its code', async () => {
  const dir = await tempDir('trellis-agent-child-');
  const mesh = await startCaMesh();
  await fs.writeFile(
    path.join(dir, 'cred.jwt'),
    await mesh.ca.credentials.issue({ namespace: 'default', serviceAccount: 'web', kind: 'workload' }),
  );
  try {
    const script = [
      "const fs = require('node:fs');",
      'const b = JSON.parse(fs.readFileSync(process.env.GRPC_XDS_BOOTSTRAP, "utf8"));',
      'const f = b.certificate_providers.default.config;',
      'fs.readFileSync(f.certificate_file); fs.readFileSync(f.private_key_file);',
      'console.log("child saw", b.node.metadata.NAMESPACE, b.node.metadata.GENERATOR);',
      'process.exit(7);',
    ].join(' ');
    const r = await runTrellis(
      [
        'agent',
        '--credential-file',
        'cred.jwt',
        '--xds-address',
        mesh.address,
        '--grpc-bootstrap',
        'grpc.json',
        '--',
        process.execPath,
        '-e',
        script,
      ],
      { cwd: dir },
    );
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stdout, /agent ready: .*files in \S+var\/lib\/istio\/data, gRPC bootstrap \S+grpc\.json/);
    assert.match(r.stdout, /child saw default grpc/);
    assert.match(r.stdout, /exited with 7/);

    // A long-running child is stopped with the agent.
    const agent = startTrellis(
      [
        'agent',
        '--credential-file',
        'cred.jwt',
        '--xds-address',
        mesh.address,
        '--cert-dir',
        'c',
        '--',
        process.execPath,
        '-e',
        'process.on("SIGTERM", () => { console.log("child got SIGTERM"); process.exit(0); }); console.log("child running"); setInterval(() => {}, 1000);',
      ],
      { cwd: dir },
    );
    await agent.waitForOutput(/child running/);
    assert.equal(await agent.stop('SIGTERM'), 0);
    assert.match(agent.stdout(), /child got SIGTERM/);
  } finally {
    await mesh.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
