/**
 * The Gateway API under `trellis up`: the ingress gateway `up` runs from the Mesh manifest serves
 * a Gateway API Gateway that names it with `trellis.io/gateway-selector` (its listener on the
 * gateway's port), beside the Istio VirtualService the mesh already has. The Gateway is in the
 * namespace the up gateway runs in (the Mesh's, `default`): a Gateway API Gateway is served only
 * by proxies of its own namespace unless it is in the root namespace, istio-system.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { eventually } from '../../../src/core/testing/eventually.js';
import { runTrellis } from '../helpers/process.js';
import { tinyMesh } from '../../e2e/helpers/tiny-mesh.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

test('trellis up serves an HTTPRoute through its ingress gateway', { timeout: 120_000 }, async (t) => {
  const mesh = await tinyMesh();
  const port = await freePort();
  await writeFile(
    path.join(mesh.configDir, 'gateway-api.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: default
  annotations: { trellis.io/gateway-selector: "istio=ingressgateway" }
spec:
  gatewayClassName: istio
  listeners: [{ name: http, port: ${port}, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web }
spec:
  parentRefs: [{ name: web }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /gwapi } }]
    filters:
    - type: URLRewrite
      urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /rewritten } }
    backendRefs: [{ name: web, port: 9080 }]
`,
  );
  const up = mesh.start(['--gateway-port', String(port)]);
  t.after(async () => {
    await up.stop('SIGKILL');
    await mesh.remove();
  });
  await up.waitForOutput(/Press Ctrl-C to stop/, 60_000);
  const controlPlane = /control plane: +(http:\/\/127\.0\.0\.1:\d+)/.exec(up.stdout())?.[1] ?? '';
  const text = await eventually(
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/gwapi/x`, { signal: AbortSignal.timeout(5000) });
      return r.status === 200 ? await r.text() : false;
    },
    { what: 'the HTTPRoute served by the up gateway', timeoutMs: 30_000 },
  );
  assert.equal(text, 'web-v1 hello /rewritten/x');
  const istio = await fetch(`http://127.0.0.1:${port}/hello`);
  assert.equal(await istio.text(), 'web-v1 hello /hello', "the mesh's own VirtualService still serves");
  const got = await runTrellis(['get', 'httproutes', '--control-plane', controlPlane]);
  assert.match(got.stdout, /\nweb +True +True/);
});
