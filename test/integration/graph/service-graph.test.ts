/**
 * The live service graph: a control plane scraping a real sidecar that sends 20 requests a second
 * to a service; the graph's edge and rate match the traffic (within tolerance), over the HTTP API
 * and through `trellis graph` as a user runs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { ServiceGraph } from '../../../src/controlplane/graph/types.js';
import { runTrellis } from '../helpers/process.js';
import { startGraphMesh } from './helpers.js';

const EDGE = 'workload:default/productpage-1->workload:default/reviews';
const RATE = 20;

test('the scraped graph shows the edge at the rate traffic is sent', async (t) => {
  const mesh = await startGraphMesh();
  t.after(() => mesh.close());
  const traffic = mesh.send(RATE);
  try {
    const edge = await eventually(
      async () => {
        const res = await fetch(`${mesh.httpUrl}/v1/graph?type=workload&window=2`);
        const g = (await res.json()) as ServiceGraph;
        const e = g.edges.find((x) => x.id === EDGE);
        // The rate settles once two scrapes a full window apart both saw traffic.
        return e !== undefined && Math.abs(e.requestsPerSecond - RATE) <= RATE * 0.25 ? { g, e } : false;
      },
      { what: `edge ${EDGE} at ~${RATE}/s`, timeoutMs: 15_000 },
    );
    assert.equal(edge.g.source, 'scrape');
    assert.equal(edge.e.protocol, 'http');
    assert.equal(edge.e.errorRatio, 0);
    assert.ok(edge.e.p50Ms !== undefined && edge.e.p50Ms > 0);
    assert.ok((edge.e.responseCodes['200'] ?? 0) > 0);
    const nodes = edge.g.nodes.map((n) => n.id).sort();
    assert.deepEqual(nodes, ['workload:default/productpage-1', 'workload:default/reviews']);

    const cli = await runTrellis([
      'graph',
      '--type',
      'app',
      '--window',
      '3',
      '--control-plane',
      mesh.httpUrl,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^SOURCE\s+DESTINATION\s+PROTOCOL\s+TRAFFIC\s+ERRORS\s+P50\s+P99\s+MTLS\n/);
    assert.match(
      cli.stdout,
      /\ndefault\/productpage\s+default\/reviews\s+http\s+[\d.]+\/s\s+0\.0%\s+[\d.]+ms\s+[\d.]+ms\s+unknown\n/,
    );

    const bad = await runTrellis(['graph', '--type', 'pods', '--control-plane', mesh.httpUrl]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--type pods: expected one of workload, app, versionedApp, service/);
    const badWindow = await fetch(`${mesh.httpUrl}/v1/graph?window=0`);
    assert.equal(badWindow.status, 400);
    assert.match(await badWindow.text(), /window=\\"0\\": expected whole seconds from 1 to 600/);
  } finally {
    await traffic.stop();
  }
});
