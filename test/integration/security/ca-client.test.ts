/**
 * The proxy's CA client against a real control plane over gRPC: certificates of a few seconds on
 * a FakeClock, renewed at half life; a control plane outage keeps the old certificate and the
 * client recovers when the control plane is back (same port, same state directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { CaClient } from '../../../src/proxy/identity/ca-client.js';
import { grpcCertificateRequester } from '../../../src/proxy/identity/ca-client-transport.js';
import { fixedCredential } from '../../../src/proxy/identity/credential-source.js';
import { startCaMesh, tempDir } from './ca-helpers.js';

test('renewal at half life through the control plane; an outage keeps the certificate; recovery', async () => {
  const stateDir = await tempDir();
  const clock = new FakeClock(Date.now());
  let mesh = await startCaMesh({ stateDir, clock, workloadTtlSeconds: 4 });
  const port = Number(mesh.address.split(':')[1]);
  const credential = await mesh.ca.credentials.issue({
    namespace: 'shop',
    serviceAccount: 'cart',
    kind: 'workload',
  });
  const client = new CaClient({
    requester: grpcCertificateRequester(mesh.address, { deadlineMs: 2000 }),
    credential: fixedCredential(credential),
    clock,
    random: () => 0,
    logger: silentLogger,
    backoff: { baseMs: 200, maxMs: 1000 },
  });
  try {
    client.start();
    const first = await client.ready();
    assert.equal(first.identity, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.ok(Math.abs(first.notAfter.getTime() - clock.wallNow() - 4000) <= 1000, 'the CA lifetime: 4 s');

    // Half life: a new certificate from the CA, with a new key.
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.equal(client.status.issued, 2), { what: 'renewed' });
    const second = client.current();
    assert.ok(second && second.privateKeyPem !== first.privateKeyPem);

    // The control plane goes away: the renewal fails, the certificate stays.
    await mesh.stop();
    clock.advance((client.status.nextAttemptAt as number) - clock.wallNow());
    await eventually(() => assert.ok(client.status.failures >= 1), {
      what: 'failed renewal',
      timeoutMs: 10_000,
    });
    assert.equal(client.current(), second);
    assert.match(client.status.lastError ?? '', /UNAVAILABLE|DEADLINE_EXCEEDED/);

    // Back on the same port with the same state: the next retry succeeds.
    mesh = await startCaMesh({ stateDir, clock, workloadTtlSeconds: 4, port });
    await eventually(
      () => {
        // Each poll moves fake time to the pending retry, if one is waiting.
        const next = client.status.nextAttemptAt;
        if (next !== undefined && client.status.issued < 3)
          clock.advance(Math.max(0, next - clock.wallNow()));
        assert.equal(client.status.issued, 3);
      },
      { what: 'recovered', timeoutMs: 15_000, intervalMs: 50 },
    );
    assert.equal(client.status.lastError, undefined);
    assert.equal(client.current()?.rootCertsPem, first.rootCertsPem, 'same root after the restart');
  } finally {
    client.close();
    await mesh.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
});
