/**
 * Issue #10 finding 7: a canary written in one step (a DestinationRule that adds subset v2 and a
 * VirtualService that sends it 10%, in one write) must not fail a single request, and neither
 * must taking it back (subset and weight removed in one write). The proxy gets the new route only
 * once the subset's cluster and its endpoints are in service (ADS order CDS -> EDS -> LDS -> RDS
 * and cluster warming on the proxy), and loses the cluster only after the route stopped naming it.
 *
 *   load (8 keep-alive connections) --> sidecar outbound --> reviews v1 | reviews v2
 *                                          ^ xDS (delta or SotW), 25 ms each way (a relay)
 *   one write mid-load --> memory store --> control plane
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { startBackend } from '../../src/proxy/testing/harness.js';
import { eventually } from '../../src/core/testing/eventually.js';
import { startMesh, type TestMesh } from './helpers/mesh.js';
import { startLatencyRelay } from './helpers/latency-relay.js';
import { startSidecar } from './helpers/sidecar.js';
import type { TrellisProxy } from '../../src/proxy/proxy.js';

const HOST = 'reviews.default.svc.cluster.local';
/** Requests per run; the write happens after a third of them. */
const REQUESTS = 3000;
const CONCURRENCY = 8;
const ROUNDS = 3;
/** One-way delay between the sidecar and the control plane. */
const XDS_DELAY_MS = 25;

const serviceEntry = (v1Port: number, v2Port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${v1Port} }, labels: { version: v1 } }
  - { address: 127.0.0.1, ports: { http: ${v2Port} }, labels: { version: v2 } }
`;

/** Only v1: the state before the canary and after it is taken back. */
const STABLE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${HOST}
  subsets:
  - { name: v1, labels: { version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  http:
  - route:
    - destination: { host: ${HOST}, subset: v1 }
`;

/** The canary: subset v2 and 10% of the traffic to it. */
const CANARY = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${HOST}
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  http:
  - route:
    - { destination: { host: ${HOST}, subset: v1 }, weight: 90 }
    - { destination: { host: ${HOST}, subset: v2 }, weight: 10 }
`;

interface RunResult {
  total: number;
  /** Status (or `error: ...`) -> count, for everything that was not a 2xx. */
  failures: Map<string, number>;
  byBackend: Map<string, number>;
}

/** One request through the sidecar on a keep-alive agent: status and the backend that answered. */
async function get(agent: http.Agent, port: number): Promise<{ status: string; backend: string }> {
  return await new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: `http://${HOST}:9080/`,
        headers: { host: `${HOST}:9080` },
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: String(res.statusCode ?? 0), backend: String(res.headers['x-backend'] ?? '') }),
        );
        res.on('error', (err) => resolve({ status: `error: ${err.message}`, backend: '' }));
      },
    );
    req.on('error', (err) => resolve({ status: `error: ${err.message}`, backend: '' }));
    req.end();
  });
}

/**
 * Sends REQUESTS requests on CONCURRENCY keep-alive connections, calls `write` once a third of
 * them are done, and keeps going (up to 4x REQUESTS) until `applied` says the write is in
 * service, so every run covers the switch itself.
 */
async function runLoad(
  proxy: TrellisProxy,
  write: () => void,
  applied: (backend: string) => boolean,
): Promise<RunResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const port = proxy.listeners.ports.outbound;
  const result: RunResult = { total: 0, failures: new Map(), byBackend: new Map() };
  let written = false;
  let inService = false;
  const more = () => result.total < REQUESTS || (!inService && result.total < REQUESTS * 4);
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (more()) {
          result.total++;
          if (!written && result.total >= REQUESTS / 3) {
            written = true;
            write();
          }
          const { status, backend } = await get(agent, port);
          if (!status.startsWith('2')) result.failures.set(status, (result.failures.get(status) ?? 0) + 1);
          result.byBackend.set(backend, (result.byBackend.get(backend) ?? 0) + 1);
          if (written && !inService && applied(backend)) inService = true;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  assert.ok(inService, `the write was in service before ${result.total} requests were sent`);
  return result;
}

function describe(r: RunResult): string {
  return `${r.total} requests, failures ${JSON.stringify([...r.failures])}, backends ${JSON.stringify([...r.byBackend])}`;
}

async function startCanaryMesh(t: { after(fn: () => Promise<void>): void }, xdsProtocol: 'delta' | 'sotw') {
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  const mesh: TestMesh = await startMesh();
  const relay = await startLatencyRelay(mesh.xdsPort, XDS_DELAY_MS);
  const proxy = await startSidecar(relay.port, { xdsProtocol });
  t.after(async () => {
    await proxy.stop(100);
    await relay.close();
    await mesh.stop();
    await v1.close();
    await v2.close();
  });
  mesh.apply(serviceEntry(v1.port, v2.port) + '---\n' + STABLE);
  const agent = new http.Agent({ keepAlive: false });
  await eventually(
    async () => (await get(agent, proxy.listeners.ports.outbound)).backend === 'v1',
    'the route to subset v1',
  );
  return { mesh, proxy };
}

for (const xdsProtocol of ['delta', 'sotw'] as const) {
  test(`${xdsProtocol}: a one-write canary and its one-write rollback fail no request, ${ROUNDS} times over`, async (t) => {
    const { mesh, proxy } = await startCanaryMesh(t, xdsProtocol);
    for (let round = 1; round <= ROUNDS; round++) {
      // After the canary is in service, v2 answers; consecutive v1 answers are normal at 10%.
      const canary = await runLoad(
        proxy,
        () => mesh.apply(CANARY),
        (backend) => backend === 'v2',
      );
      t.diagnostic(`round ${round}, canary: ${describe(canary)}`);
      assert.equal(canary.failures.size, 0, `round ${round}, canary: ${describe(canary)}`);
      assert.ok(
        (canary.byBackend.get('v2') ?? 0) > 0,
        `round ${round}, canary reached v2: ${describe(canary)}`,
      );

      // Rolled back once 500 answers in a row came from v1 (at 10% that is chance 1 in 10^22).
      let v1InARow = 0;
      const rollback = await runLoad(
        proxy,
        () => mesh.apply(STABLE),
        (backend) => (v1InARow = backend === 'v1' ? v1InARow + 1 : 0) >= 500,
      );
      t.diagnostic(`round ${round}, rollback: ${describe(rollback)}`);
      assert.equal(rollback.failures.size, 0, `round ${round}, rollback: ${describe(rollback)}`);
    }
  });
}
