/**
 * Regenerates the proxy-config fixtures from a real push: an in-process control plane serving
 * bookinfo-mesh.yaml and a real Trellis proxy (productpage's sidecar) connected to it. Writes
 *   cp-config-dump.json      the control plane's /debug/config_dump?proxy=ID (what was sent)
 *   proxy-config-dump.json   the proxy's admin /config_dump (what it accepted)
 *   proxy-clusters.txt       the proxy's admin /clusters (endpoint health)
 * Run: node --import tsx src/cli/testdata/make-config-dumps.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAndValidate } from '../../api/parse.js';
import { validateResource } from '../../api/validate.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { systemRandom } from '../../core/random.js';
import { MemoryConfigStore } from '../../config/memory-store.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import { TrellisProxy } from '../../proxy/proxy.js';

const HERE = import.meta.dirname;
const NODE_ID = 'sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local';

async function main(): Promise<void> {
  const store = new MemoryConfigStore((r) => validateResource(r));
  for (const d of parseAndValidate(await readFile(path.join(HERE, 'bookinfo-mesh.yaml'), 'utf8'), 'mesh')) {
    if (!d.resource) throw new Error(`bookinfo-mesh.yaml:${d.source.doc}: ${JSON.stringify(d.problems)}`);
    store.apply(d.resource);
  }
  const cp = new ControlPlane({ config: store, debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const proxy = new TrellisProxy({
    xds: `127.0.0.1:${bound.xds.port}`,
    bootstrap: {
      nodeId: NODE_ID,
      cluster: 'productpage.default',
      mode: 'sidecar',
      namespace: 'default',
      workloadName: 'productpage-v1',
      labels: { app: 'productpage', version: 'v1' },
      instanceIps: ['127.0.0.1'],
      locality: '',
    },
    version: 'fixture',
    bindAddress: '127.0.0.1',
    adminAddress: '127.0.0.1',
    adminPort: 0,
    outboundPort: 0,
    inboundPort: 0,
    bindListeners: [],
    clock: systemClock,
    random: systemRandom,
    logger: silentLogger,
    onReady: () => ready(),
  });
  try {
    await proxy.start();
    await isReady;
    // Ready means the first full set arrived; give the ACKs and EDS a moment to settle.
    await new Promise((r) => setTimeout(r, 500));
    const cpUrl = `http://127.0.0.1:${bound.http.port}`;
    const admin = `http://127.0.0.1:${proxy.adminPort}`;
    const cpDump = (await (
      await fetch(`${cpUrl}/debug/config_dump?proxy=${encodeURIComponent(NODE_ID)}`)
    ).json()) as object;
    const proxyDump = (await (await fetch(`${admin}/config_dump`)).json()) as object;
    const clusters = await (await fetch(`${admin}/clusters`)).text();
    // Timestamps and versions change on every run; fix them so the fixtures diff cleanly.
    const stable = (o: object) =>
      JSON.stringify(o, null, 2)
        .replace(/"\d{4}-\d\d-\d\dT[\d:.]+Z"/g, '"2025-01-01T00:00:00.000Z"')
        .replace(/"(version_info|versionInfo)": "[^"]*"/g, '"$1": "fixture"') + '\n';
    await writeFile(path.join(HERE, 'cp-config-dump.json'), stable(cpDump));
    await writeFile(path.join(HERE, 'proxy-config-dump.json'), stable(proxyDump));
    await writeFile(path.join(HERE, 'proxy-clusters.txt'), clusters);
    console.log('wrote cp-config-dump.json, proxy-config-dump.json, proxy-clusters.txt');
  } finally {
    await proxy.stop(0);
    await cp.stop();
  }
}

await main();
