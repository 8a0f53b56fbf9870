/**
 * A bookinfo-like mesh for the console's browser tests: an in-process control plane with the
 * console's tokens (alice is an editor, bob a viewer), bookinfo's four services as
 * ServiceEntries whose endpoints are real HTTP backends (reviews in two versions, each
 * answering with its version), and a real Trellis proxy as the sidecar of a client workload,
 * through which the tests send traffic.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBackend, type Backend } from '../../../../src/proxy/testing/harness.js';
import { eventually } from '../../../../src/core/testing/eventually.js';
import type { TrellisProxy } from '../../../../src/proxy/proxy.js';
import { parseTokenFile } from '../../../../src/controlplane/console/tokens.js';
import { startMesh, type TestMesh } from '../../../integration/helpers/mesh.js';
import { startSidecar, viaSidecar } from '../../../integration/helpers/sidecar.js';

export const EDITOR_TOKEN = 'alice-7d1c0b54e3a94f09b2';
export const VIEWER_TOKEN = 'bob-5f2a8e61c07d4b3a91';
export const TOKEN_FILE = `${EDITOR_TOKEN},alice,1001,"trellis:editors"\n${VIEWER_TOKEN},bob,1002,"trellis:viewers,dev"\n`;

export const REVIEWS = 'reviews.default.svc.cluster.local';

export interface ConsoleMesh {
  mesh: TestMesh;
  sidecar: TrellisProxy;
  consoleUrl: string;
  stateDir: string;
  /** The body of a request to reviews through the client's sidecar (`reviews-v1` or `reviews-v2`). */
  callReviews(headers?: Record<string, string>): Promise<string>;
  /** Status and body of the same request. */
  requestReviews(headers?: Record<string, string>): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

const entry = (name: string, eps: { port: number; version: string }[]) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints:
${eps.map((e) => `  - { address: 127.0.0.1, ports: { http: ${e.port} }, labels: { app: ${name}, version: ${e.version} } }`).join('\n')}
`;

export interface ConsoleMeshOptions {
  /** Where the sidecar's stdout access log lines go (dropped by default). */
  accessLog?: (line: string) => void;
}

export async function startConsoleMesh(options: ConsoleMeshOptions = {}): Promise<ConsoleMesh> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'trellis-console-'));
  const backends: Backend[] = [];
  const backend = async (name: string) => {
    const b = await startBackend(name, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(name);
    });
    backends.push(b);
    return b;
  };
  const [productpage, details, reviews1, reviews2, ratings] = [
    await backend('productpage-v1'),
    await backend('details-v1'),
    await backend('reviews-v1'),
    await backend('reviews-v2'),
    await backend('ratings-v1'),
  ];
  const { entries } = parseTokenFile(TOKEN_FILE, 'tokens.csv');
  const mesh = await startMesh({
    console: { tokens: entries, auditFile: path.join(stateDir, 'console-audit.jsonl') },
  });
  mesh.apply(
    [
      entry('productpage', [{ port: productpage.port, version: 'v1' }]),
      entry('details', [{ port: details.port, version: 'v1' }]),
      entry('reviews', [
        { port: reviews1.port, version: 'v1' },
        { port: reviews2.port, version: 'v2' },
      ]),
      entry('ratings', [{ port: ratings.port, version: 'v1' }]),
    ].join('---\n'),
  );
  const { accessLog } = options;
  const sidecar = await startSidecar(mesh.xdsPort, {
    app: 'productpage',
    ...(accessLog ? { accessLogStdout: { write: accessLog } } : {}),
  });
  const requestReviews = async (headers: Record<string, string> = {}) => {
    const res = await viaSidecar(sidecar, 'reviews:9080', '/reviews/1', headers);
    return { status: res.status, body: res.body };
  };
  const callReviews = async (headers: Record<string, string> = {}) => (await requestReviews(headers)).body;
  await eventually(async () => assert.match(await callReviews(), /^reviews-v[12]$/), {
    what: 'the sidecar routes reviews',
  });
  return {
    mesh,
    sidecar,
    consoleUrl: `${mesh.httpUrl}/console/`,
    stateDir,
    callReviews,
    requestReviews,
    stop: async () => {
      await sidecar.stop();
      await mesh.stop();
      for (const b of backends) await b.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
