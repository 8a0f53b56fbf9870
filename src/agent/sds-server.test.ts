import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CertificateAuthority } from '../ca/authority.js';
import { FakeClock } from '../core/clock.js';
import { memoryLogger } from '../core/logger.js';
import { eventually } from '../core/testing/eventually.js';
import { TYPE } from '../protocol/protos.js';
import type { AgentCertificate } from './certificate-source.js';
import { SdsServer } from './sds-server.js';
import { issueWorkloadCertificate, manualSource } from './testing/certificates.js';
import { SdsTestClient, type SdsTestStream } from './testing/sds-client.js';

let ca: CertificateAuthority;
let dir: string;
let first: AgentCertificate;

before(async () => {
  ca = await CertificateAuthority.create();
  first = await issueWorkloadCertificate(ca);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-sds-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function harness(name: string, cert: AgentCertificate | undefined = first) {
  const source = manualSource(cert);
  const { logger, lines } = memoryLogger('agent');
  const clock = new FakeClock(Date.now());
  const socketPath = path.join(dir, name, 'socket');
  const server = await SdsServer.start({ socketPath, certificates: source, clock, logger, filePollMs: 1000 });
  const client = new SdsTestClient(socketPath);
  const streams: SdsTestStream[] = [];
  return {
    source,
    lines,
    clock,
    socketPath,
    server,
    client,
    open(method?: 'StreamSecrets' | 'DeltaSecrets') {
      const s = client.stream(method);
      streams.push(s);
      return s;
    },
    async close() {
      for (const s of streams) s.close();
      client.close();
      await server.close();
    },
  };
}

const pem = (b: Buffer | undefined) => b?.toString('utf8');

test('StreamSecrets serves `default` (chain and key) and `ROOTCA` (trust bundle) as Envoy asks', async () => {
  const h = await harness('basic');
  try {
    const s = h.open();
    s.subscribe(['default']);
    const r = await s.next();
    assert.equal(r.raw.type_url, TYPE.secret);
    assert.ok(r.raw.version_info && r.raw.nonce, 'a version and a nonce');
    const d = r.secrets.get('default');
    assert.equal(pem(d?.tls_certificate?.certificate_chain?.inline_bytes), first.certChainPem);
    assert.equal(pem(d?.tls_certificate?.private_key?.inline_bytes), first.privateKeyPem);
    s.ack(r.raw, ['default']);

    const root = h.open();
    root.subscribe(['ROOTCA']);
    const rr = await root.next();
    assert.deepEqual([...rr.secrets.keys()], ['ROOTCA']);
    assert.equal(
      pem(rr.secrets.get('ROOTCA')?.validation_context?.trusted_ca?.inline_bytes),
      first.rootCertsPem,
    );

    const both = h.open();
    both.subscribe(['default', 'ROOTCA']);
    assert.deepEqual([...(await both.next()).secrets.keys()].sort(), ['ROOTCA', 'default']);
    assert.equal(h.server.streamCount, 3, 'several Envoy streams at once');
  } finally {
    await h.close();
  }
});

test('a renewed certificate is pushed with a new version; ROOTCA only when the bundle changes', async () => {
  const h = await harness('rotate');
  try {
    const d = h.open();
    d.subscribe(['default']);
    const r1 = await d.next();
    d.ack(r1.raw, ['default']);
    const root = h.open();
    root.subscribe(['ROOTCA']);
    const rr1 = await root.next();
    root.ack(rr1.raw, ['ROOTCA']);

    const second = await issueWorkloadCertificate(ca);
    h.source.rotate(second);
    const r2 = await d.next();
    assert.notEqual(r2.raw.version_info, r1.raw.version_info);
    assert.notEqual(r2.raw.nonce, r1.raw.nonce);
    assert.equal(
      pem(r2.secrets.get('default')?.tls_certificate?.private_key?.inline_bytes),
      second.privateKeyPem,
    );
    d.ack(r2.raw, ['default']);

    // A root rotation: the bundle gains a second root. The first ROOTCA push the stream sees is
    // this one, so the renewal above (same bundle) pushed nothing to it.
    const other = await CertificateAuthority.create();
    const third = await issueWorkloadCertificate(
      ca,
      'web',
      [...ca.trustBundle(), ...other.trustBundle()].join(''),
    );
    h.source.rotate(third);
    const rr2 = await root.next();
    assert.notEqual(rr2.raw.version_info, rr1.raw.version_info);
    assert.equal(
      pem(rr2.secrets.get('ROOTCA')?.validation_context?.trusted_ca?.inline_bytes),
      third.rootCertsPem,
    );
    assert.equal(root.pending, 0);
  } finally {
    await h.close();
  }
});

test('a NACK is logged with its detail and the stream keeps working', async () => {
  const h = await harness('nack');
  try {
    const s = h.open();
    s.subscribe(['default']);
    const r1 = await s.next();
    s.nack(r1.raw, ['default'], 'Failed to load private key from <inline>');
    await eventually(() =>
      assert.ok(
        h.lines.some(
          (l) => /NACKed/.test(l) && /Failed to load private key/.test(l) && /web\.default/.test(l),
        ),
        h.lines.join(''),
      ),
    );
    // Nothing is resent for the NACK; the next certificate is.
    const next = await issueWorkloadCertificate(ca);
    h.source.rotate(next);
    const r2 = await s.next();
    assert.equal(
      pem(r2.secrets.get('default')?.tls_certificate?.private_key?.inline_bytes),
      next.privateKeyPem,
    );
  } finally {
    await h.close();
  }
});

test('unknown names are refused with a log line; the names it serves still come', async () => {
  const h = await harness('unknown');
  try {
    const s = h.open();
    s.subscribe(['default', 'kubernetes://my-secret']);
    const r = await s.next();
    assert.deepEqual([...r.secrets.keys()], ['default']);
    assert.ok(
      h.lines.some(
        (l) => /unknown secret name/.test(l) && /kubernetes:\/\/my-secret/.test(l) && /ROOTCA/.test(l),
      ),
      h.lines.join(''),
    );
    const bad = h.open();
    bad.subscribe(['file-root:relative/root.pem']);
    await eventually(() =>
      assert.ok(
        h.lines.some((l) => /absolute path/.test(l)),
        h.lines.join(''),
      ),
    );
  } finally {
    await h.close();
  }
});

test('before the first certificate a stream waits, then gets it', async () => {
  const h = await harness('waiting', undefined);
  try {
    const s = h.open();
    s.subscribe(['default', 'ROOTCA']);
    await eventually(() => assert.equal(h.server.streamCount, 1));
    h.source.rotate(first);
    const r = await s.next();
    assert.deepEqual([...r.secrets.keys()].sort(), ['ROOTCA', 'default']);
  } finally {
    await h.close();
  }
});

test('a changed subscription on the same stream is answered; a stale nonce is ignored', async () => {
  const h = await harness('resubscribe');
  try {
    const s = h.open();
    s.subscribe(['default']);
    const r1 = await s.next();
    // A stale nonce asking for something else: ignored (a later response supersedes it).
    s.ack({ ...r1.raw, nonce: 'stale' }, ['ROOTCA']);
    s.ack(r1.raw, ['default', 'ROOTCA']);
    const r2 = await s.next();
    assert.deepEqual([...r2.secrets.keys()].sort(), ['ROOTCA', 'default']);
    assert.equal(s.pending, 0);
  } finally {
    await h.close();
  }
});

test('file-cert: and file-root: names are read from disk and pushed again when the files change', async () => {
  const h = await harness('files');
  const cert = path.join(dir, 'files-cert.pem');
  const key = path.join(dir, 'files-key.pem');
  const root = path.join(dir, 'files-root.pem');
  await fs.writeFile(cert, first.certChainPem);
  await fs.writeFile(key, first.privateKeyPem);
  await fs.writeFile(root, first.rootCertsPem);
  try {
    const s = h.open();
    const names = [`file-cert:${cert}~${key}`, `file-root:${root}`];
    s.subscribe(names);
    const r1 = await s.next();
    assert.equal(
      pem(r1.secrets.get(names[0] as string)?.tls_certificate?.certificate_chain?.inline_bytes),
      first.certChainPem,
    );
    assert.equal(
      pem(r1.secrets.get(names[1] as string)?.validation_context?.trusted_ca?.inline_bytes),
      first.rootCertsPem,
    );
    s.ack(r1.raw, names);
    const next = await issueWorkloadCertificate(ca);
    await fs.writeFile(key, next.privateKeyPem);
    await fs.writeFile(cert, next.certChainPem);
    h.clock.advance(1000);
    const r2 = await s.next();
    assert.equal(
      pem(r2.secrets.get(names[0] as string)?.tls_certificate?.private_key?.inline_bytes),
      next.privateKeyPem,
    );
  } finally {
    await h.close();
  }
});

test('file-cert:/file-root: serve only PEM certificates and keys, not whatever file a name points at', async () => {
  const h = await harness('not-pem');
  const secret = path.join(dir, 'not-pem-secret.txt');
  const cert = path.join(dir, 'not-pem-cert.pem');
  await fs.writeFile(secret, 'password=hunter2\n');
  await fs.writeFile(cert, first.certChainPem);
  try {
    const names = [
      `file-root:${secret}`,
      `file-cert:${cert}~${secret}`,
      `file-cert:${secret}~${cert}`,
      `file-root:${dir}/../../etc/passwd`,
      'default',
    ];
    const s = h.open();
    s.subscribe(names);
    const r = await s.next();
    assert.deepEqual([...r.secrets.keys()], ['default'], 'only the workload secret');
    assert.ok(!JSON.stringify(r.raw).includes(Buffer.from('hunter2').toString('base64')));
    await eventually(() =>
      assert.ok(
        h.lines.some((l) => /not-pem-secret\.txt is not certificates in PEM form/.test(l)) &&
          h.lines.some((l) => /not-pem-secret\.txt is not a private key in PEM form/.test(l)) &&
          h.lines.some((l) => /not-pem-secret\.txt is not a certificate chain in PEM form/.test(l)),
        h.lines.join(''),
      ),
    );
    const fetched = await h.client.fetch(names);
    assert.deepEqual([...fetched.secrets.keys()], ['default']);
  } finally {
    await h.close();
  }
});

test('DeltaSecrets: per-resource versions, unknown names removed, only changes pushed', async () => {
  const h = await harness('delta');
  try {
    const s = h.open('DeltaSecrets');
    s.delta({ subscribe: ['default', 'ROOTCA', 'nope'], nodeId: 'sidecar~127.0.0.1~web.default~x' });
    const r1 = await s.next();
    assert.deepEqual([...r1.secrets.keys()].sort(), ['ROOTCA', 'default']);
    assert.deepEqual(r1.raw.removed_resources, ['nope']);
    s.delta({ ackOf: r1.raw });
    const next = await issueWorkloadCertificate(ca);
    h.source.rotate(next);
    const r2 = await s.next();
    assert.deepEqual([...r2.secrets.keys()], ['default'], 'the unchanged ROOTCA is not resent');
    assert.ok(h.lines.some((l) => /unknown secret name/.test(l) && /nope/.test(l)));

    // A reconnect that already has the current versions gets nothing it has.
    const again = h.open('DeltaSecrets');
    const versions = Object.fromEntries(
      (r1.raw.resources ?? [])
        .concat(r2.raw.resources ?? [])
        .map((x) => ['name' in x ? x.name : '', 'version' in x ? x.version : '']),
    ) as Record<string, string>;
    again.delta({
      subscribe: ['default', 'ROOTCA', 'x'],
      initialVersions: { default: versions.default ?? '', ROOTCA: versions.ROOTCA ?? '' },
    });
    const r3 = await again.next();
    assert.equal(r3.secrets.size, 0);
    assert.deepEqual(r3.raw.removed_resources, ['x']);
  } finally {
    await h.close();
  }
});

test('malformed traffic: another resource type ends that stream with INVALID_ARGUMENT; garbage bytes break nothing', async () => {
  const h = await harness('malformed');
  try {
    // a SotW request naming Listeners on the secret service
    const other = h.open();
    other.send({
      resource_names: ['default'],
      type_url: 'type.googleapis.com/envoy.config.listener.v3.Listener',
    });
    await assert.rejects(
      other.next(),
      /INVALID_ARGUMENT: this SDS server serves only type\.googleapis\.com\/envoy\.extensions\.transport_sockets\.tls\.v3\.Secret, not type\.googleapis\.com\/envoy\.config\.listener\.v3\.Listener/,
    );
    const net = await import('node:net');
    await new Promise<void>((resolve) => {
      const sock = net.createConnection(h.socketPath, () => {
        sock.end(Buffer.from('GET / HTTP/1.1\r\n\r\n\x00\xff garbage'));
      });
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
      sock.resume();
    });
    const s = h.open();
    s.subscribe(['default']);
    assert.deepEqual([...(await s.next()).secrets.keys()], ['default'], 'still serving');
  } finally {
    await h.close();
  }
});

test('FetchSecrets answers once; a stale socket file is replaced, another file is refused', async () => {
  const h = await harness('fetch');
  try {
    const r = await h.client.fetch(['ROOTCA', 'default']);
    assert.deepEqual([...r.secrets.keys()], ['ROOTCA', 'default']);
    assert.equal((await fs.stat(h.socketPath)).mode & 0o777, 0o600, 'only this user may connect');
  } finally {
    await h.close();
  }
  // A socket file already there (left behind by a killed agent).
  const stale = path.join(dir, 'fetch', 'stale');
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(stale, resolve));
  await fs.writeFile(path.join(dir, 'fetch', 'plain'), 'x');
  const source = manualSource(first);
  const logger = memoryLogger().logger;
  const clock = new FakeClock(Date.now());
  assert.ok((await fs.lstat(stale)).isSocket(), 'a stale socket file is there');
  const reborn = await SdsServer.start({ socketPath: stale, certificates: source, clock, logger });
  const c = new SdsTestClient(stale);
  try {
    assert.deepEqual([...(await c.fetch(['default'])).secrets.keys()], ['default']);
  } finally {
    c.close();
    await reborn.close();
    srv.close();
  }
  await assert.rejects(
    SdsServer.start({ socketPath: path.join(dir, 'fetch', 'plain'), certificates: source, clock, logger }),
    /--sds-socket .*plain: a file that is not a socket/,
  );
});
