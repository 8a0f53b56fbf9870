/**
 * `trellis up` gives every workload an identity: serviceAccount from the manifest (default the
 * service), a credential file per workload in the state directory, a certificate per sidecar
 * from the control plane's CA, and registrations carrying the service account and
 * Istio's tlsMode label. A second `up` keeps the CA and rotates the credentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { startTrellis } from '../helpers/process.js';
import { tempDir } from './ca-helpers.js';

const APP = `require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;

const MESH = `apiVersion: trellis.io/v1alpha1
kind: Mesh
metadata: { name: ids }
spec:
  config: config
  workloads:
  - name: alpha-v1
    service: alpha
    namespace: shop
    serviceAccount: alpha-runner
    ports: [{ port: 9080, protocol: http }]
    command: [node, -e, "${APP.replace(/"/g, '\\"')}"]
  - name: beta-v1
    service: beta
    ports: [{ port: 9081, protocol: http }]
    command: [node, -e, "${APP.replace(/"/g, '\\"')}"]
`;

interface RegistryService {
  hostname: string;
  endpoints: { labels: Record<string, string>; serviceAccount?: string }[];
}

async function runUp(dir: string) {
  const up = startTrellis(
    [
      'up',
      dir,
      '--base-port',
      '0',
      '--xds-port',
      '0',
      '--http-port',
      '0',
      '--stop-grace',
      '1',
      '--workload-cert-ttl',
      '1h',
    ],
    { env: { TRELLIS_LOG_LEVEL: 'warn' } },
  );
  try {
    await up.waitForOutput(/Press Ctrl-C to stop/, 45_000);
  } catch (err) {
    await up.stop('SIGKILL');
    throw new Error(`${String(err)}\n${up.stdout()}\n${up.stderr()}`);
  }
  return up;
}

test(
  'trellis up: an identity per workload, certificates from the CA, registrations with sa and tlsMode',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('trellis-up-ids-');
    await fs.mkdir(path.join(dir, 'config'));
    await fs.writeFile(path.join(dir, 'mesh.yaml'), MESH);
    const state = path.join(dir, 'config', '.trellis-state');
    try {
      const up = await runUp(dir);
      let rootBefore: string;
      let credentialBefore: string;
      try {
        const out = up.stdout();
        assert.match(
          out,
          /control-plane +\.\.\. ready \(.*CA created in .*\.trellis-state\/ca, trust domain cluster\.local\)/,
        );
        assert.match(
          out,
          /\n +alpha-v1 +sidecar~127\.0\.0\.1~alpha-v1\.shop~shop\.svc\.cluster\.local +http:\/\/127\.0\.0\.1:\d+ +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/alpha-runner\n/,
        );
        assert.match(
          out,
          /\n +beta-v1 +sidecar~127\.0\.0\.1~beta-v1\.default~default\.svc\.cluster\.local +http:\/\/127\.0\.0\.1:\d+ +spiffe:\/\/cluster\.local\/ns\/default\/sa\/beta\n/,
        );

        const credential = await fs.readFile(path.join(state, 'credentials', 'alpha-v1.jwt'), 'utf8');
        assert.equal((await fs.stat(path.join(state, 'credentials', 'alpha-v1.jwt'))).mode & 0o777, 0o600);
        assert.equal(decodeJwt(credential).sub, 'spiffe://cluster.local/ns/shop/sa/alpha-runner');
        credentialBefore = credential;
        rootBefore = await fs.readFile(path.join(state, 'ca', 'root-cert.pem'), 'utf8');

        const cpUrl = /control plane: +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        assert.ok(cpUrl, out);
        const registry = (await (await fetch(`${cpUrl}/debug/registry`)).json()) as RegistryService[];
        const alpha = registry.find((s) => s.hostname === 'alpha.shop.svc.cluster.local');
        assert.equal(alpha?.endpoints.length, 1, JSON.stringify(registry));
        assert.equal(alpha?.endpoints[0]?.serviceAccount, 'alpha-runner');
        assert.equal(alpha?.endpoints[0]?.labels['security.istio.io/tlsMode'], 'istio');
        const beta = registry.find((s) => s.hostname === 'beta.default.svc.cluster.local');
        assert.equal(beta?.endpoints[0]?.serviceAccount, 'beta');

        const metrics = await (await fetch(`${cpUrl}/metrics`)).text();
        assert.match(metrics, /^citadel_server_success_cert_issuance_count [2-9]\d*$/m);
      } finally {
        assert.equal(await up.stop('SIGTERM'), 0, up.stdout() + up.stderr());
      }

      // Again: the CA is the same (loaded), the credentials are new.
      const again = await runUp(dir);
      try {
        assert.match(again.stdout(), /CA loaded in .*\.trellis-state\/ca/);
        assert.equal(await fs.readFile(path.join(state, 'ca', 'root-cert.pem'), 'utf8'), rootBefore);
        assert.notEqual(
          await fs.readFile(path.join(state, 'credentials', 'alpha-v1.jwt'), 'utf8'),
          credentialBefore,
        );
      } finally {
        assert.equal(await again.stop('SIGTERM'), 0);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);
