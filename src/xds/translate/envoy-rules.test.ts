/**
 * Envoy cannot run beside these tests, so what it checks first when it accepts a resource is
 * checked here: every resource the translation generates, for sidecars, gateways and proxyless
 * gRPC clients, over the test fixtures and the bookinfo example (each scenario applied on top of
 * its base config), against the protoc-gen-validate rules in Envoy's own protos.
 *
 * Services are not part of those files (the example runs them from its Mesh manifest; the
 * fixtures only name them), so every host a VirtualService or DestinationRule routes to becomes
 * a service, with the ports routed to and an endpoint per subset, to make the routes and
 * clusters real.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fqdn, isWildcardHost } from '../../api/hosts.js';
import { parseAndValidate } from '../../api/parse.js';
import type { Resource } from '../../api/resource.js';
import { RESOURCE_TYPES, SHORT_TYPE } from '../../protocol/protos.js';
import { validateRules } from '../../protocol/validate-rules.js';
import { contributionFromConfig } from '../../registry/service-entries.js';
import type { Endpoint, Service, ServicePort } from '../../registry/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { buildPushContext, generate } from './index.js';
import { config, endpoint, proxy, registry, service } from './testkit.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

function load(file: string): Resource[] {
  const docs = parseAndValidate(readFileSync(file, 'utf8'), path.relative(repo, file));
  return docs.flatMap((d) => (d.resource ? [d.resource] : []));
}

function yamlIn(dir: string): string[] {
  return readdirSync(path.join(repo, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(repo, dir, f));
}

/** Hosts (with the ports routed to) and subset labels a config routes to. */
function destinations(resources: readonly Resource[]): {
  hosts: Map<string, Set<number>>;
  subsets: Map<string, Record<string, string>[]>;
} {
  const hosts = new Map<string, Set<number>>();
  const subsets = new Map<string, Record<string, string>[]>();
  const add = (host: string, ns: string, port?: number): string | undefined => {
    if (isWildcardHost(host) || host.includes('*')) return undefined;
    const name = fqdn(host, ns);
    const ports = hosts.get(name) ?? new Set<number>();
    if (port !== undefined) ports.add(port);
    hosts.set(name, ports);
    return name;
  };
  const walk = (value: unknown, ns: string): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, ns);
    } else if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (typeof o.host === 'string') {
        const port = (o.port as { number?: number } | undefined)?.number;
        add(o.host, ns, port);
      }
      for (const v of Object.values(o)) walk(v, ns);
    }
  };
  for (const r of resources) {
    if (r.kind !== 'VirtualService' && r.kind !== 'DestinationRule') continue;
    walk(r.spec, r.metadata.namespace);
    if (r.kind === 'DestinationRule') {
      const spec = r.spec as { host: string; subsets?: { labels?: Record<string, string> }[] };
      const name = add(spec.host, r.metadata.namespace);
      if (name !== undefined)
        subsets.set(name, [...(subsets.get(name) ?? []), ...(spec.subsets ?? []).map((s) => s.labels ?? {})]);
    }
  }
  return { hosts, subsets };
}

function servicesFor(resources: readonly Resource[]): { services: Service[]; endpoints: Endpoint[] } {
  const entries = contributionFromConfig(
    resources.filter((r) => r.kind === 'ServiceEntry'),
    resources.filter((r) => r.kind === 'WorkloadEntry'),
  );
  const services = [...entries.services];
  const endpoints = [...entries.endpoints];
  const known = new Set(services.map((s) => s.hostname));
  const { hosts, subsets } = destinations(resources);
  let ip = 1;
  for (const [hostname, routedPorts] of hosts) {
    if (known.has(hostname)) continue;
    const ports: ServicePort[] = [...new Set([80, 9080, ...routedPorts])].map((number) => ({
      name: `http-${number}`,
      number,
      protocol: 'HTTP',
    }));
    services.push(service(hostname, ports));
    for (const labels of [{}, ...(subsets.get(hostname) ?? [])]) {
      endpoints.push(endpoint(hostname, `10.1.${Math.floor(ip / 250)}.${(ip % 250) + 1}`, { labels }));
      ip++;
    }
  }
  return { services, endpoints };
}

/** A sidecar and a proxyless client in every namespace, a gateway for every Gateway selector. */
function proxiesFor(resources: readonly Resource[]): ProxyNode[] {
  const namespaces = new Set(['default', ...resources.map((r) => r.metadata.namespace)]);
  const out: ProxyNode[] = [];
  for (const namespace of namespaces) {
    out.push(proxy({ namespace, labels: { app: 'client' } }));
    out.push(proxy({ type: 'grpc', namespace, labels: { app: 'grpc-client' } }));
  }
  for (const gw of resources.filter((r) => r.kind === 'Gateway')) {
    const labels = (gw.spec as { selector?: Record<string, string> }).selector ?? {};
    out.push(proxy({ type: 'router', namespace: gw.metadata.namespace, labels }));
    out.push(proxy({ type: 'router', namespace: 'istio-system', labels }));
  }
  return out;
}

/** Every PGV finding in everything generated for every proxy of the config. */
function findings(resources: readonly Resource[]): string[] {
  const { services, endpoints } = servicesFor(resources);
  const push = buildPushContext(config(resources), registry(services, endpoints));
  const out = new Set<string>();
  let generated = 0;
  for (const p of proxiesFor(resources)) {
    for (const type of RESOURCE_TYPES) {
      for (const [name, resource] of generate(push, p, type)) {
        generated++;
        for (const f of validateRules(type, resource))
          out.add(`${p.type} ${SHORT_TYPE[type]} ${name}: ${f.path}: ${f.rule}: ${f.message}`);
      }
    }
  }
  assert.ok(generated > 0, 'the config generated nothing to check');
  return [...out].sort();
}

/** Replace same-kind, same-name resources, as copying a scenario file into config/ does. */
function overlay(base: readonly Resource[], top: readonly Resource[]): Resource[] {
  const id = (r: Resource): string => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
  const replaced = new Set(top.map(id));
  return [...base.filter((r) => !replaced.has(id(r))), ...top];
}

for (const file of yamlIn('test/fixtures/api/valid')) {
  test(`Envoy's validate rules hold for what ${path.relative(repo, file)} generates`, () => {
    assert.deepEqual(findings(load(file)), []);
  });
}

test("Envoy's validate rules hold for all valid fixtures together", () => {
  assert.deepEqual(findings(yamlIn('test/fixtures/api/valid').flatMap(load)), []);
});

const bookinfo = yamlIn('examples/bookinfo/config').flatMap(load);
test("Envoy's validate rules hold for the bookinfo example", () => {
  assert.deepEqual(findings(bookinfo), []);
});

for (const file of [...yamlIn('examples/bookinfo/scenarios'), ...yamlIn('examples/istio')]) {
  test(`Envoy's validate rules hold for bookinfo with ${path.relative(repo, file)}`, () => {
    assert.deepEqual(findings(overlay(bookinfo, load(file))), []);
  });
}

const AT_THE_LIMITS = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: limits }
spec:
  host: limits
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 8388608 } } }
    connectionPool:
      http: { maxConcurrentStreams: 0, h2UpgradePolicy: UPGRADE, http2MaxRequests: 0, maxRetries: 0 }
      tcp: { maxConnections: 0, tcpKeepalive: { time: 500ms, probes: 0 } }
    outlierDetection: { consecutive5xxErrors: 0, maxEjectionPercent: 0 }
  subsets:
    - name: maglev
      labels: { version: v1 }
      trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 5000011 } } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: limits }
spec:
  hosts: [limits]
  http:
    - match: [{ headers: { x-empty: { exact: "" } } }]
      headers: { request: { set: { x-tab: "a\\tb" } } }
      retries: { attempts: 0 }
      fault: { abort: { httpStatus: 599, percentage: { value: 0 } } }
      route: [{ destination: { host: limits }, weight: 0 }, { destination: { host: limits, subset: maglev }, weight: 100 }]
    - redirect: { uri: /moved, redirectCode: 308 }
    - directResponse: { status: 200, body: { string: "" } }
`;

test("values at the edge of what the API accepts still generate config Envoy's validate rules accept", () => {
  const docs = parseAndValidate(AT_THE_LIMITS, 'limits.yaml');
  assert.deepEqual(
    docs.flatMap((d) => d.problems),
    [],
  );
  assert.deepEqual(findings(docs.flatMap((d) => (d.resource ? [d.resource] : []))), []);
});
