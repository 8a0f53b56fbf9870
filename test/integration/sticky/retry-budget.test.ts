/**
 * Retry budgets under load (issue #13 item 7), side by side through one sidecar: two services
 * whose backends fail every request, both called with Istio's retry policy of two retries. The
 * one on Trellis's default budget (20% of active requests, at least 3) sees at most about a
 * quarter more requests than its callers send; the one whose DestinationRule turns the budget
 * off (Istio's limits: max_retries at its maximum) sees its traffic tripled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend } from '../../../src/proxy/testing/harness.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startMesh } from '../helpers/mesh.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';

const WORKERS = 30;
const PER_WORKER = 10;
const CALLS = WORKERS * PER_WORKER;

const service = (
  name: string,
  port: number,
  budget: string | undefined,
) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: default
  ${budget === undefined ? '' : `annotations: { trellis.io/retry-budget: "${budget}" }`}
spec:
  host: ${name}.default.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  http:
  - match: [{ uri: { exact: /ready } }]
    directResponse: { status: 200, body: { string: ready } }
  - route: [{ destination: { host: ${name}.default.svc.cluster.local } }]
    retries: { attempts: 2, retryOn: 5xx }
`;

test('a failing backend under concurrent load: the default retry budget caps the extra load, without it traffic triples', async (t) => {
  // Every request fails after a few milliseconds (an overloaded service answering 503).
  const failing = (name: string) =>
    startBackend(name, (_req, res) => {
      setTimeout(() => res.writeHead(503).end('overloaded'), 20);
    });
  const budgeted = await failing('budgeted');
  const unbudgeted = await failing('unbudgeted');
  const mesh = await startMesh();
  const proxy = await startSidecar(mesh.xdsPort);
  t.after(async () => {
    await proxy.stop(100);
    await mesh.stop();
    await budgeted.close();
    await unbudgeted.close();
  });
  mesh.apply(service('budgeted', budgeted.port, undefined));
  mesh.apply(service('unbudgeted', unbudgeted.port, 'off'));
  for (const name of ['budgeted', 'unbudgeted']) {
    await eventually(
      async () =>
        (await viaSidecar(proxy, `${name}.default.svc.cluster.local:9080`, '/ready')).status === 200,
      `the routes to ${name}`,
    );
  }

  const load = async (name: string): Promise<number[]> => {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        for (let i = 0; i < PER_WORKER; i++) {
          statuses.push((await viaSidecar(proxy, `${name}.default.svc.cluster.local:9080`, '/')).status);
        }
      }),
    );
    return statuses;
  };
  // Side by side: both services under the same load at the same time.
  const [withBudget, withoutBudget] = await Promise.all([load('budgeted'), load('unbudgeted')]);
  assert.equal(withBudget.length, CALLS);
  assert.ok(withBudget.every((s) => s === 503) && withoutBudget.every((s) => s === 503));

  const amplification = (hits: number) => hits / CALLS;
  t.diagnostic(
    `budgeted ${amplification(budgeted.hits).toFixed(2)}x, unbudgeted ${amplification(unbudgeted.hits).toFixed(2)}x`,
  );
  // Without a budget every call is tried three times.
  assert.equal(
    unbudgeted.hits,
    3 * CALLS,
    `unbudgeted backend saw ${unbudgeted.hits} requests for ${CALLS} calls`,
  );
  // With it, retries (each holding its slot through back-off and attempt) stay within 20% of the
  // attempts in flight, at least 3: about 1.25x here (more when back-off dominates the attempt).
  assert.ok(
    amplification(budgeted.hits) <= 1.6,
    `budgeted backend saw ${budgeted.hits} requests for ${CALLS} calls (${amplification(budgeted.hits).toFixed(2)}x)`,
  );
  assert.ok(budgeted.hits > CALLS, 'some calls are still retried within the budget');
});
