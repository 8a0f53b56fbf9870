/**
 * Tracing configured the way `trellis up --otlp` configures it (cli/up/otlp.ts: the `otlp`
 * provider, the default tracing provider at 100%, the collector's ServiceEntry), through the real
 * control plane to a real Trellis sidecar, which exports its spans to an OTLP receiver over HTTP
 * and over gRPC; a Telemetry's custom tag reaches the spans.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAndValidate } from '../../../src/api/parse.js';
import { validateResource } from '../../../src/api/validate.js';
import { DEFAULT_MESH_TELEMETRY } from '../../../src/api/telemetry/mesh-telemetry.js';
import { otlpServiceEntry, otlpTelemetry, parseOtlpUrl } from '../../../src/cli/up/otlp.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { startBackend, type Backend } from '../../../src/proxy/testing/harness.js';
import type { TrellisProxy } from '../../../src/proxy/proxy.js';
import { startSidecar, viaSidecar } from '../helpers/sidecar.js';
import { OtlpReceiver } from '../tracing/otlp-receiver.js';

const HOST = 'reviews.default.svc.cluster.local';
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function apply(store: MemoryConfigStore, yaml: string): void {
  for (const doc of parseAndValidate(yaml, 'test.yaml')) {
    assert.ok(doc.resource, JSON.stringify(doc.problems));
    store.apply(doc.resource);
  }
}

async function tracedMesh(url: string): Promise<{ client: TrellisProxy; store: MemoryConfigStore }> {
  const target = parseOtlpUrl(url);
  const store = new MemoryConfigStore((r) => validateResource(r));
  store.apply(otlpServiceEntry(target));
  const backend: Backend = await startBackend('reviews');
  cleanups.push(() => backend.close());
  apply(
    store,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: ${backend.port} }]
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - customTags: { team: { literal: { value: books } } }
`,
  );
  const cp = new ControlPlane({
    config: store,
    debounce: { quietMs: 10, maxMs: 1000 },
    telemetry: otlpTelemetry(DEFAULT_MESH_TELEMETRY, target),
  });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  cleanups.push(() => cp.stop());
  const client = await startSidecar(bound.xds.port, { app: 'client' });
  cleanups.push(() => client.stop());
  return { client, store };
}

for (const kind of ['http', 'grpc'] as const) {
  test(`--otlp ${kind}: the sidecar's spans reach the collector, with the Telemetry's custom tag`, async () => {
    const receiver = kind === 'http' ? await OtlpReceiver.http() : await OtlpReceiver.grpc();
    cleanups.push(() => receiver.close());
    const url =
      kind === 'http' ? `http://127.0.0.1:${receiver.port}/v1/traces` : `grpc://127.0.0.1:${receiver.port}`;
    const { client } = await tracedMesh(url);
    await eventually(
      async () => {
        assert.equal((await viaSidecar(client, `${HOST}:9080`, '/traced')).status, 200);
        assert.ok(receiver.spans.some((s) => s.attributes.team === 'books'));
      },
      { what: `spans exported over OTLP/${kind}`, timeoutMs: 10_000, intervalMs: 200 },
    );
    const span = receiver.spans.find((s) => s.attributes.team === 'books');
    assert.ok(span, JSON.stringify(receiver.spans.map((s) => s.attributes)));
    assert.equal(span.serviceName, 'client.default');
    assert.equal(span.attributes['istio.canonical_service'], 'unknown');
  });
}
