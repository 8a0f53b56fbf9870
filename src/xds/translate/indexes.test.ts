/**
 * The indexes answer exactly what a scan of every resource would: each is checked against the
 * straightforward scan on many random meshes (wildcards, short names, upper case, exportTo,
 * workload selectors, several resources per host).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fqdn, hostMatches } from '../../api/hosts.js';
import type { Resource } from '../../api/resource.js';
import type { DestinationRuleSpec, SidecarSpec, VirtualServiceSpec } from '../../api/networking/types.js';
import { seededRandom, type Random } from '../../core/random.js';
import type { Service } from '../../registry/types.js';
import { DestinationRuleIndex, VirtualServiceIndex } from './config-index.js';
import { buildPushContext, visibleServices } from './index.js';
import { egressAdmits } from './scope.js';
import { byCreation, exportedTo, labelsMatch, SelectorIndex, type Labels } from './selectors.js';
import { config, http, proxy, registry, res, service } from './testkit.js';

const NAMESPACES = ['x', 'y', 'istio-system'];
const HOSTS = [
  'a.x.svc.cluster.local',
  'b.x.svc.cluster.local',
  'a.y.svc.cluster.local',
  'api.ex.com',
  'www.ex.com',
  'deep.www.ex.com',
  '*.wild.com',
];
const PATTERNS = ['a', 'b', 'A.X.svc.cluster.local', '*.ex.com', '*.www.ex.com', '*', '*.wild.com', ...HOSTS];
const EXPORTS = [undefined, ['*'], ['.'], ['y'], ['~']];

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const some = <T>(random: Random, items: readonly T[], max: number): T[] =>
  Array.from({ length: 1 + Math.floor(random() * max) }, () => pick(random, items));

function randomLabels(random: Random): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of some(random, ['app', 'version', 'tier'], 2)) out[k] = pick(random, ['1', '2']);
  return out;
}

function randomServices(random: Random): Service[] {
  return HOSTS.filter(() => random() < 0.8).map((h) =>
    service(h, [http(80)], {
      namespace: h.endsWith('.svc.cluster.local') ? (h.split('.')[1] as string) : pick(random, NAMESPACES),
      ...(random() < 0.3 ? { exportTo: pick(random, EXPORTS) } : {}),
    }),
  );
}

test('SelectorIndex finds exactly the items a scan of every selector finds, in order', () => {
  const random = seededRandom(1);
  for (let round = 0; round < 200; round++) {
    const selectors: Labels[] = Array.from({ length: 8 }, () =>
      random() < 0.15 ? {} : randomLabels(random),
    );
    const index = new SelectorIndex(selectors, (s) => s);
    for (let q = 0; q < 5; q++) {
      const labels = randomLabels(random);
      assert.deepEqual(
        index.matching(labels),
        selectors.filter((s) => labelsMatch(s, labels)),
      );
    }
  }
});

test('DestinationRuleIndex.forHost equals a scan of every rule', () => {
  const random = seededRandom(2);
  for (let round = 0; round < 200; round++) {
    const rules = Array.from({ length: 6 }, (_, i) =>
      res<DestinationRuleSpec>('DestinationRule', pick(random, NAMESPACES), `r${i}`, {
        host: pick(random, PATTERNS),
        ...(random() < 0.3 ? { exportTo: pick(random, EXPORTS) } : {}),
        ...(random() < 0.2 ? { workloadSelector: { labels: randomLabels(random) } } : {}),
      }),
    ).sort(byCreation);
    const index = new DestinationRuleIndex(rules, rules, 'cluster.local');
    for (const host of HOSTS) {
      for (const ns of NAMESPACES) {
        const scan = rules.filter(
          (r) =>
            r.spec.workloadSelector === undefined &&
            exportedTo(r.spec.exportTo, r.metadata.namespace, ns) &&
            hostMatches(fqdn(r.spec.host, r.metadata.namespace), host),
        );
        assert.deepEqual(
          index.forHost(host, ns).map((c) => c.rule),
          scan,
          `${host} from ${ns}`,
        );
      }
    }
    for (const ns of NAMESPACES) {
      const labels = randomLabels(random);
      assert.deepEqual(
        index.selecting(ns, labels),
        rules.filter(
          (r) =>
            r.metadata.namespace === ns &&
            r.spec.workloadSelector !== undefined &&
            labelsMatch(r.spec.workloadSelector.labels, labels),
        ),
      );
    }
  }
});

/** The deciding VirtualServices by the definition: exact host first, else the longest wildcard. */
function decidingByScan(
  all: Resource<VirtualServiceSpec>[],
  host: string,
  ns: string,
): Resource<VirtualServiceSpec>[] {
  const candidates = all
    .filter((vs) => (vs.spec.hosts ?? []).length > 0)
    .filter((vs) => exportedTo(vs.spec.exportTo, vs.metadata.namespace, ns))
    .filter((vs) => (vs.spec.gateways ?? []).length === 0 || (vs.spec.gateways ?? []).includes('mesh'))
    .map((vs) => ({ vs, hosts: (vs.spec.hosts ?? []).map((h) => fqdn(h, vs.metadata.namespace)) }));
  const exact = candidates.filter((c) => c.hosts.includes(host));
  if (exact.length > 0) return exact.map((c) => c.vs);
  const longest = (c: { hosts: string[] }): number =>
    Math.max(-1, ...c.hosts.filter((h) => h.startsWith('*') && hostMatches(h, host)).map((h) => h.length));
  const best = Math.max(-1, ...candidates.map(longest));
  return best < 0 ? [] : candidates.filter((c) => longest(c) === best).map((c) => c.vs);
}

test('VirtualServiceIndex: deciding services and gateway bindings equal a scan', () => {
  const random = seededRandom(3);
  for (let round = 0; round < 200; round++) {
    const all = Array.from({ length: 6 }, (_, i) =>
      res<VirtualServiceSpec>('VirtualService', pick(random, NAMESPACES), `vs${i}`, {
        ...(random() < 0.15 ? {} : { hosts: some(random, PATTERNS, 2) }),
        ...(random() < 0.3 ? { exportTo: pick(random, EXPORTS) } : {}),
        ...(random() < 0.3 ? { gateways: some(random, ['mesh', 'gw', 'x/gw', 'y/other'], 2) } : {}),
      }),
    ).sort(byCreation);
    const index = new VirtualServiceIndex(all, all, 'cluster.local');
    for (const host of HOSTS) {
      for (const ns of NAMESPACES) {
        assert.deepEqual(index.deciding(host, ns), decidingByScan(all, host, ns), `${host} from ${ns}`);
      }
    }
    const refs = ['x/gw', 'y/gw', 'y/other'];
    const bound = all.filter(
      (vs) =>
        (vs.spec.hosts ?? []).length > 0 &&
        (vs.spec.gateways ?? []).some((g) =>
          refs.includes(g.includes('/') ? g : `${vs.metadata.namespace}/${g}`),
        ),
    );
    assert.deepEqual(
      index.boundTo(refs).map((r) => r.vs),
      bound,
    );
  }
});

test('Sidecar scopes found through the service index equal a scan of every service', () => {
  const random = seededRandom(4);
  const egressHosts = [
    ...NAMESPACES.flatMap((ns) => [`${ns}/*`, `${ns}/a.x.svc.cluster.local`]),
    './*',
    '~/*',
    '*/*.ex.com',
    '*/API.EX.COM',
    '*/*',
    './b.x.svc.cluster.local',
    '*/*.wild.com',
    '*/x.wild.com',
  ];
  for (let round = 0; round < 150; round++) {
    const services = randomServices(random);
    const sidecarNs = pick(random, NAMESPACES);
    const spec: SidecarSpec = { egress: [{ hosts: some(random, egressHosts, 3) }] };
    const sidecar = res<SidecarSpec>('Sidecar', sidecarNs, 'default', spec);
    const push = buildPushContext(config([sidecar]), registry(services));
    for (const ns of NAMESPACES) {
      const proxyNs = sidecarNs === 'istio-system' ? ns : sidecarNs;
      const dot = sidecarNs === 'istio-system' ? proxyNs : sidecarNs;
      const want = services
        .filter(
          (s) =>
            exportedTo(s.exportTo, s.namespace, proxyNs) &&
            (spec.egress ?? []).flatMap((l) => l.hosts).some((e) => egressAdmits(e, dot, s)),
        )
        .map((s) => s.hostname)
        .sort((a, b) => a.localeCompare(b));
      assert.deepEqual(
        visibleServices(push, proxy({ namespace: proxyNs })),
        want,
        `${JSON.stringify(spec)} ${proxyNs}`,
      );
    }
  }
});
