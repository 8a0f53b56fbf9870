/**
 * In-process translation benchmark: the bench:xds mesh (bench/xds-mesh.ts) translated for M
 * proxies without any networking, so the CPU of src/xds/translate can be measured alone.
 * Initial sync = generate CDS, EDS (for the CDS cluster names), LDS and RDS for every proxy;
 * a change = one VirtualService weight change: build the next push context (passing the
 * previous one), affectedTypes for every proxy, then generate what is affected.
 *
 *   node --import tsx bench/xds-translate.ts [--services 2000] [--proxies 1000] [--scoped]
 *                                            [--changes 5] [--endpoint-change]
 *                                            [--profile-changes FILE.cpuprofile]
 */
import { parseArgs } from 'node:util';
import { startProfiler } from './xds-profile-session.js';
import { validateResource } from '../src/api/validate.js';
import { MemoryConfigStore } from '../src/config/memory-store.js';
import { TYPE, type ResourceTypeUrl } from '../src/protocol/protos.js';
import { contributionFromConfig } from '../src/registry/service-entries.js';
import { ServiceIndex } from '../src/registry/service-index.js';
import type { ProxyNode } from '../src/xds/proxy-node.js';
import { affectedTypes, buildPushContext, generate, type PushContext } from '../src/xds/translate/index.js';
import {
  changedService,
  changedWeights,
  meshResources,
  proxyIdentity,
  serviceEntry,
  virtualService,
  type MeshShape,
} from './xds-mesh.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '2000' },
    proxies: { type: 'string', default: '1000' },
    namespaces: { type: 'string', default: '5' },
    scoped: { type: 'boolean', default: false },
    changes: { type: 'string', default: '5' },
    'endpoint-change': { type: 'boolean', default: false },
    'profile-changes': { type: 'string' },
  },
});

const shape: MeshShape = {
  services: Number(values.services),
  namespaces: Number(values.namespaces),
  scoped: values.scoped === true,
};
const proxyCount = Number(values.proxies);

const store = new MemoryConfigStore(validateResource);
store.replaceAll(meshResources(shape));
const index = new ServiceIndex();
const syncServices = (): void => {
  const snap = store.snapshot();
  index.setSource('config', contributionFromConfig(snap.list('ServiceEntry'), snap.list('WorkloadEntry')));
};
syncServices();

const proxies: ProxyNode[] = Array.from({ length: proxyCount }, (_, j) => {
  const id = proxyIdentity(j, shape);
  return {
    id: id.id,
    type: 'sidecar',
    namespace: id.namespace,
    labels: { app: id.app, version: id.version },
    workloadName: `${id.app}-${id.version}`,
    ipAddresses: [id.ip],
    locality: '',
    cluster: `${id.app}.${id.namespace}`,
    metadata: {},
  };
});

const build = (previous?: PushContext): PushContext =>
  buildPushContext(store.snapshot(), index.snapshot(), {}, previous);

function cpuMs<T>(fn: () => T): { value: T; ms: number } {
  const start = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(start);
  return { value, ms: (used.user + used.system) / 1000 };
}

function generateAll(push: PushContext, p: ProxyNode, types: readonly ResourceTypeUrl[]): number {
  let n = 0;
  for (const t of types) {
    const names =
      t === TYPE.endpoint
        ? [...generate(push, p, TYPE.cluster).keys()].filter((c) => c.startsWith('outbound|'))
        : undefined;
    n += generate(push, p, t, names).size;
  }
  return n;
}

const ALL: ResourceTypeUrl[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
console.log(`load average: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
let push = cpuMs(() => build()).value;
const initial = cpuMs(() => {
  let n = 0;
  for (const p of proxies) n += generateAll(push, p, ALL);
  return n;
});
console.log(
  `initial sync: ${proxyCount} proxies, ${initial.value} resources, ${initial.ms.toFixed(0)} ms CPU, heap ${mb(process.memoryUsage().heapUsed)}`,
);

const profiler = values['profile-changes'] !== undefined ? await startProfiler() : undefined;
const svc = changedService(shape);
const rows: string[] = [];
for (let i = 0; i < Number(values.changes); i++) {
  if (values['endpoint-change'] === true) {
    const se = serviceEntry(svc, shape);
    const spec = se.spec as { endpoints: { address: string }[] };
    spec.endpoints.push({ address: `10.200.0.${i + 1}` });
    store.apply(se);
  } else {
    store.apply(virtualService(svc, shape, changedWeights(i)));
  }
  const t = cpuMs(() => {
    syncServices();
    const b = cpuMs(() => build(push));
    const next = b.value;
    const a = cpuMs(() => proxies.map((p) => affectedTypes(push, next, p)));
    let pushed = 0;
    const g = cpuMs(() => {
      proxies.forEach((p, j) => {
        const types = [...(a.value[j] ?? [])];
        if (types.length > 0) pushed++;
        generateAll(next, p, types);
      });
    });
    push = next;
    return { b: b.ms, a: a.ms, g: g.ms, pushed };
  });
  rows.push(
    `change ${i + 1}: total ${t.ms.toFixed(0)} ms CPU (registry sync ${(t.ms - t.value.b - t.value.a - t.value.g).toFixed(0)}, build ${t.value.b.toFixed(0)}, affectedTypes ${t.value.a.toFixed(0)}, generate ${t.value.g.toFixed(0)}); proxies pushed ${t.value.pushed}`,
  );
}
if (profiler !== undefined) await profiler.stop(values['profile-changes'] as string);
for (const r of rows) console.log(r);
console.log(
  `heap after changes: ${mb(process.memoryUsage().heapUsed)}, rss ${mb(process.memoryUsage().rss)}`,
);
