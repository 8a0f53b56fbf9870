/**
 * `trellis proxy-config secret` over Envoy's SecretsConfigDump shape: a table test of the rows,
 * and the command against a fake admin server answering what Envoy's /config_dump does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../ca/authority.js';
import { generateKeyAndCsr } from '../ca/workload.js';
import type { CommandIo } from './command.js';
import { command } from './commands/proxy-config.js';
import { renderSecrets, secretEntries } from './proxy-config-secrets.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

async function material() {
  const clock = { wallNow: () => T0 };
  const ca = await CertificateAuthority.create({ clock });
  const next = await CertificateAuthority.create({ clock });
  const chain = await ca.signCsr((await generateKeyAndCsr()).csrPem, {
    identity: { namespace: 'shop', serviceAccount: 'cart' },
    ttlSeconds: 3600,
  });
  return { ca, next, chain, leaf: new X509Certificate(chain.certChainPem[0] as string) };
}

/** What Envoy (and the Trellis proxy) print at /config_dump for Istio's two SDS secrets. */
function envoyDump(m: Awaited<ReturnType<typeof material>>) {
  return {
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
        bootstrap: { node: { id: 'sidecar~x' } },
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
        dynamicActiveSecrets: [
          {
            name: 'default',
            versionInfo: '2026-01-01T12:00:00Z/1',
            lastUpdated: '2026-01-01T12:00:00.000Z',
            secret: {
              '@type': SECRET,
              name: 'default',
              tlsCertificate: {
                certificateChain: { inlineBytes: b64(m.chain.certChainPem.join('')) },
                privateKey: { inlineBytes: b64('[redacted]') },
              },
            },
          },
          {
            name: 'ROOTCA',
            versionInfo: '1',
            lastUpdated: '2026-01-01T12:00:00.000Z',
            secret: {
              '@type': SECRET,
              name: 'ROOTCA',
              validationContext: {
                trustedCa: { inlineBytes: b64([...m.ca.trustBundle(), ...m.next.trustBundle()].join('')) },
              },
            },
          },
        ],
        dynamicWarmingSecrets: [{ name: 'file-cert' }],
        staticSecrets: [
          {
            name: 'from-file',
            secret: {
              name: 'from-file',
              tlsCertificate: { certificateChain: { filename: '/etc/certs/cert.pem' } },
            },
          },
          {
            name: 'broken',
            secret: { name: 'broken', validationContext: { trustedCa: { inlineString: 'not a pem' } } },
          },
        ],
      },
    ],
  };
}

test('rows: the leaf of a chain, each root of a bundle, warming and unreadable secrets', async () => {
  const m = await material();
  const entries = secretEntries(envoyDump(m));
  assert.deepEqual(
    entries.map((e) => `${e.name}:${e.status}`),
    ['from-file:ACTIVE', 'broken:ACTIVE', 'default:ACTIVE', 'ROOTCA:ACTIVE', 'file-cert:WARMING'],
  );
  const serial = m.leaf.serialNumber.toLowerCase().replace(/^0+/, '');
  const table = renderSecrets(entries, T0 + 60_000)
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/ {3,}/));
  assert.deepEqual(table[0], [
    'RESOURCE NAME',
    'TYPE',
    'STATUS',
    'VALID CERT',
    'SERIAL NUMBER',
    'NOT AFTER',
    'NOT BEFORE',
    'IDENTITY',
  ]);
  assert.deepEqual(table[1], ['from-file', 'Cert Chain', 'ACTIVE', '-', '-', '-', '-', '-']);
  assert.deepEqual(table[2], ['broken', 'CA', 'ACTIVE', 'false', '-', '-', '-', '-']);
  assert.deepEqual(table[3], [
    'default',
    'Cert Chain',
    'ACTIVE',
    'true',
    serial,
    '2026-01-01T13:00:00Z',
    '2026-01-01T11:55:00Z',
    'spiffe://cluster.local/ns/shop/sa/cart',
  ]);
  assert.equal(table[4]?.[0], 'ROOTCA');
  assert.equal(table[4]?.[1], 'CA');
  assert.equal(table[4]?.[7], 'CN=Trellis Root CA');
  assert.equal(table[5]?.[0], 'ROOTCA', 'the second root of a rotation has its own row');
  assert.notEqual(table[5]?.[4], table[4]?.[4]);
  assert.deepEqual(table[6], ['file-cert', '-', 'WARMING', '-', '-', '-', '-', '-']);
  assert.equal(table.length, 7);

  // After NOT AFTER (and before NOT BEFORE) the certificate is not valid.
  const later = renderSecrets(
    entries.filter((e) => e.name === 'default'),
    T0 + 3601_000,
  );
  assert.match(later, /\ndefault +Cert Chain +ACTIVE +false +/);
  const earlier = renderSecrets(
    entries.filter((e) => e.name === 'default'),
    T0 - 301_000,
  );
  assert.match(earlier, /\ndefault +Cert Chain +ACTIVE +false +/);
});

test("the control plane's dump shape (dynamic_active_secrets with resource) is read too", async () => {
  const m = await material();
  const entries = secretEntries({
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
        dynamic_active_secrets: [
          {
            name: 'kubernetes://shop-cert',
            version_info: '3',
            resource: {
              name: 'kubernetes://shop-cert',
              tlsCertificate: { certificateChain: { inlineBytes: b64(m.chain.certChainPem[0] as string) } },
            },
          },
        ],
      },
    ],
  });
  assert.match(
    renderSecrets(entries, T0),
    /\nkubernetes:\/\/shop-cert +Cert Chain +ACTIVE +true +[0-9a-f]+ +2026-01-01T13:00:00Z/,
  );
  // Nothing that looks like a dump: an empty table, not a crash.
  for (const junk of [null, 42, 'x', { configs: 'x' }, { configs: [null, { '@type': 5 }] }])
    assert.equal(renderSecrets(secretEntries(junk), T0).trim(), renderSecrets([], T0).trim());
});

test('proxy-config secret --admin reads a proxy admin endpoint; -o json prints the secrets', async () => {
  const m = await material();
  let body = JSON.stringify(envoyDump(m));
  const admin = http.createServer((req, res) => {
    if (req.url === '/config_dump') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
  const out: string[] = [];
  const io: CommandIo = { stdout: (t) => out.push(t), stderr: () => undefined, env: {}, cwd: process.cwd() };
  try {
    assert.equal(await command.run(['secret', '--admin', url], io), 0);
    assert.match(
      out.join(''),
      /^RESOURCE NAME +TYPE +STATUS +VALID CERT +SERIAL NUMBER +NOT AFTER +NOT BEFORE +IDENTITY\n/,
    );
    assert.match(
      out.join(''),
      /\ndefault +Cert Chain +ACTIVE +(true|false) +[0-9a-f]+ +2026-01-01T13:00:00Z +2026-01-01T11:55:00Z +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart\n/,
    );
    out.length = 0;
    assert.equal(await command.run(['secrets', '--admin', url, '-o', 'json'], io), 0);
    const json = JSON.parse(out.join('')) as {
      name: string;
      status: string;
      secret?: { tlsCertificate?: { privateKey?: unknown } };
    }[];
    assert.deepEqual(
      json.map((e) => e.name),
      ['from-file', 'broken', 'default', 'ROOTCA', 'file-cert'],
    );
    assert.deepEqual(json[2]?.secret?.tlsCertificate?.privateKey, { inlineBytes: b64('[redacted]') });
    // Not JSON: a clear error, not a stack trace.
    body = '<html>';
    await assert.rejects(
      command.run(['secret', '--admin', url], io),
      /did not answer JSON; is --admin a proxy's admin endpoint\?/,
    );
  } finally {
    admin.close();
  }
});
