/**
 * `trellis describe WORKLOAD|SERVICE`, as `istioctl x describe pod|svc`: what applies to a
 * workload or a service, each item with the resource (namespace/name and file) that set it.
 * PeerAuthentication and AuthorizationPolicy selection reuse the translation's own modules
 * (xds/translate/security), so what this prints is what the proxies enforce. Pure: the command
 * fetches the service index, the config and the proxies; this decides and renders.
 */
import type { Resource } from '../api/resource.js';
import type { DestinationRuleSpec, HTTPRoute, VirtualServiceSpec } from '../api/networking/types.js';
import type { RateLimitSpec } from '../api/trellis/types.js';
import {
  PeerAuthenticationIndex,
  type PeerAuthenticationResource,
} from '../xds/translate/security/peer-authn.js';
import { SecurityPolicyIndex, selectAuthorizationPolicies } from '../xds/translate/security/policy-select.js';
import type { InventoryService } from './mesh-inventory.js';
import { shortName, type NamedProxy } from './proxy-names.js';

export interface DescribeInput {
  services: readonly InventoryService[];
  /** Resources by kind (VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy, RateLimit). */
  resources: Readonly<Record<string, readonly Resource[]>>;
  /** `kind/namespace/name` -> the file it is served from. */
  files: Readonly<Record<string, string>>;
  proxies: readonly NamedProxy[];
  rootNamespace?: string;
  domainSuffix?: string;
}

/** A resource as describe names it: `name.namespace`, and its file when known. */
export interface Origin {
  kind: string;
  name: string;
  namespace: string;
  file?: string;
}

export interface DescribedRoute {
  /** 1-based position in the VirtualService's http list. */
  index: number;
  match: string;
  destinations: string;
  policy: string;
}

export interface DescribedService {
  hostname: string;
  namespace: string;
  source: string;
  ports: string[];
  destinationRules: (Origin & {
    matchingSubsets: string[];
    otherSubsets: string[];
    trafficPolicy?: string;
  })[];
  virtualServices: (Origin & { routes: DescribedRoute[] })[];
  rateLimits: (Origin & { summary: string })[];
}

export interface WorkloadDescription {
  kind: 'workload';
  name: string;
  namespace: string;
  labels: Record<string, string>;
  addresses: string[];
  proxies: string[];
  peerAuthentication: { mode: string; policies: (Origin & { level: string; mode: string })[] };
  authorizationPolicies: (Origin & { action: string; rules: number })[];
  services: DescribedService[];
}

export interface ServiceDescription {
  kind: 'service';
  service: DescribedService;
  workloads: { name: string; namespace: string; addresses: string[]; proxies: string[] }[];
}

export type Description = WorkloadDescription | ServiceDescription;

const list = <S>(input: DescribeInput, kind: string) =>
  (input.resources[kind] ?? []) as readonly Resource<S>[];

function origin(input: DescribeInput, r: Resource): Origin {
  const file = input.files[`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`];
  return { kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace, ...(file ? { file } : {}) };
}

function expandHost(host: string, namespace: string, suffix: string): string {
  return host.includes('.') || host.includes('*') ? host : `${host}.${namespace}.svc.${suffix}`;
}

function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  return pattern.startsWith('*.') ? fqdn.endsWith(pattern.slice(1)) : pattern === fqdn;
}

const labelsMatch = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

function matchText(r: HTTPRoute): string {
  const alternatives = (r.match ?? []).map((m) => {
    const parts: string[] = [];
    const uri = m.uri as Record<string, string> | undefined;
    if (uri)
      parts.push(
        Object.entries(uri)
          .map(([k, v]) => `uri ${k} ${v}`)
          .join(' '),
      );
    for (const [h, sm] of Object.entries((m.headers ?? {}) as Record<string, Record<string, string>>))
      parts.push(
        `header ${h} ${Object.entries(sm)
          .map(([k, v]) => `${k} ${v}`)
          .join(' ')}`,
      );
    if (m.method) parts.push(`method ${Object.values(m.method as Record<string, string>).join('')}`);
    if (m.port !== undefined) parts.push(`port ${m.port}`);
    return parts.join(' and ') || 'any';
  });
  return alternatives.length ? alternatives.join(' or ') : 'any request';
}

function destinationsText(r: HTTPRoute): string {
  if (r.redirect) return `redirect ${JSON.stringify(r.redirect)}`;
  if (r.directResponse) return `direct response ${r.directResponse.status}`;
  const routes = r.route ?? [];
  return (
    routes
      .map((d) => {
        const to = `${d.destination.host}${d.destination.subset ? ` subset ${d.destination.subset}` : ''}${d.destination.port?.number ? `:${d.destination.port.number}` : ''}`;
        return routes.length > 1 || d.weight !== undefined ? `${to} ${d.weight ?? 0}%` : to;
      })
      .join(', ') || '-'
  );
}

function policyText(r: HTTPRoute): string {
  const parts: string[] = [];
  if (r.timeout) parts.push(`timeout ${r.timeout}`);
  if (r.retries) {
    const rt = r.retries;
    parts.push(
      rt.attempts === 0
        ? 'no retries'
        : `retries ${rt.attempts ?? 2}${rt.perTryTimeout ? ` x ${rt.perTryTimeout}` : ''}${rt.retryOn ? ` on ${rt.retryOn}` : ''}`,
    );
  }
  const delay = r.fault?.delay;
  if (delay) parts.push(`delay ${delay.fixedDelay ?? '?'} ${delay.percentage?.value ?? 100}%`);
  const abort = r.fault?.abort;
  if (abort)
    parts.push(`abort ${abort.httpStatus ?? abort.grpcStatus ?? '?'} ${abort.percentage?.value ?? 100}%`);
  if (r.mirror) parts.push(`mirror ${r.mirror.host}${r.mirror.subset ? ` subset ${r.mirror.subset}` : ''}`);
  return parts.join('; ');
}

/** Everything that applies to one service; `labels` (a workload's) splits subsets into matching or not. */
function describeService(
  input: DescribeInput,
  s: InventoryService,
  labels?: Record<string, string>,
): DescribedService {
  const suffix = input.domainSuffix ?? 'cluster.local';
  const drs = list<DestinationRuleSpec>(input, 'DestinationRule').filter((r) =>
    hostMatches(expandHost(r.spec.host, r.metadata.namespace, suffix), s.hostname),
  );
  const vss = list<VirtualServiceSpec>(input, 'VirtualService').filter((r) => {
    const gateways = r.spec.gateways ?? [];
    return (
      (gateways.length === 0 || gateways.includes('mesh')) &&
      (r.spec.hosts ?? []).some((h) => hostMatches(expandHost(h, r.metadata.namespace, suffix), s.hostname))
    );
  });
  const rls = list<RateLimitSpec>(input, 'RateLimit').filter((r) =>
    (r.spec.hosts ?? []).some((h) => hostMatches(expandHost(h, r.metadata.namespace, suffix), s.hostname)),
  );
  return {
    hostname: s.hostname,
    namespace: s.namespace,
    source: s.source,
    ports: s.ports.map(
      (p) =>
        `${p.name} ${p.number}/${p.protocol}${p.targetPort && p.targetPort !== p.number ? ` -> ${p.targetPort}` : ''}`,
    ),
    destinationRules: drs.map((r) => {
      const subsets = r.spec.subsets ?? [];
      const matching = labels ? subsets.filter((ss) => labelsMatch(ss.labels, labels)) : subsets;
      return {
        ...origin(input, r),
        matchingSubsets: matching.map((ss) => ss.name),
        otherSubsets: subsets.filter((ss) => !matching.includes(ss)).map((ss) => ss.name),
        ...(r.spec.trafficPolicy ? { trafficPolicy: JSON.stringify(r.spec.trafficPolicy) } : {}),
      };
    }),
    virtualServices: vss.map((r) => ({
      ...origin(input, r),
      routes: (r.spec.http ?? []).map((h, i) => ({
        index: i + 1,
        match: matchText(h),
        destinations: destinationsText(h),
        policy: policyText(h),
      })),
    })),
    rateLimits: rls.map((r) => ({
      ...origin(input, r),
      summary: `${r.spec.mode ?? 'local'}, ${r.spec.side ?? 'server'} side${r.spec.port ? `, port ${r.spec.port}` : ''}, ${r.spec.limits.length} limit${r.spec.limits.length === 1 ? '' : 's'}${r.spec.shadow ? ', shadow' : ''}`,
    })),
  };
}

interface Workload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  addresses: string[];
  services: InventoryService[];
}

function workloads(input: DescribeInput): Workload[] {
  const byKey = new Map<string, Workload>();
  for (const s of input.services) {
    for (const e of s.endpoints) {
      const name = e.workloadName || e.address;
      const key = `${e.namespace}/${name}`;
      let w = byKey.get(key);
      if (!w)
        byKey.set(
          key,
          (w = { name, namespace: e.namespace, labels: { ...e.labels }, addresses: [], services: [] }),
        );
      if (!w.addresses.includes(e.address)) w.addresses.push(e.address);
      if (!w.services.includes(s)) w.services.push(s);
    }
  }
  return [...byKey.values()];
}

function proxiesOf(input: DescribeInput, name: string, namespace: string): string[] {
  return input.proxies
    .filter((p) => shortName(p) === `${name}.${namespace}`)
    .map((p) => p.proxy)
    .sort();
}

export type Resolved = { ok: true; description: Description } | { ok: false; message: string };

/**
 * `name` is a workload (`reviews-v1`, `reviews-v1.default`) or a service (`reviews`,
 * `reviews.default`, the full host); `kind` forces one. A workload wins over a service of the
 * same name (istioctl describes a pod unless told `svc`).
 */
export function describe(input: DescribeInput, name: string, kind?: 'workload' | 'service'): Resolved {
  const all = workloads(input);
  const ws =
    kind === 'service' ? [] : all.filter((w) => w.name === name || `${w.name}.${w.namespace}` === name);
  if (ws.length > 1) {
    return {
      ok: false,
      message: `workload ${JSON.stringify(name)} is in ${ws.length} namespaces; name one: ${ws
        .map((w) => `${w.name}.${w.namespace}`)
        .sort()
        .join(', ')}`,
    };
  }
  const w = ws[0];
  if (w) return { ok: true, description: describeWorkload(input, w) };
  const ss =
    kind === 'workload'
      ? []
      : input.services.filter((s) => {
          const [first, ns] = s.hostname.split('.');
          return s.hostname === name || first === name || `${first}.${ns}` === name;
        });
  if (ss.length > 1) {
    return {
      ok: false,
      message: `service ${JSON.stringify(name)} is ambiguous; name one by its host: ${ss
        .map((s) => s.hostname)
        .sort()
        .join(', ')}`,
    };
  }
  const s = ss[0];
  if (s) {
    return {
      ok: true,
      description: {
        kind: 'service',
        service: describeService(input, s),
        workloads: all
          .filter((x) => x.services.includes(s))
          .map((x) => ({
            name: x.name,
            namespace: x.namespace,
            addresses: x.addresses.sort(),
            proxies: proxiesOf(input, x.name, x.namespace),
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      },
    };
  }
  const candidates = [
    ...(kind === 'service' ? [] : all.map((x) => `${x.name}.${x.namespace}`)),
    ...(kind === 'workload' ? [] : input.services.map((x) => x.hostname)),
  ].sort();
  return {
    ok: false,
    message:
      `no ${kind ?? 'workload or service'} ${JSON.stringify(name)} in the service index` +
      (candidates.length
        ? `; known: ${candidates.slice(0, 12).join(', ')}${candidates.length > 12 ? ', ...' : ''}`
        : ' (it is empty)'),
  };
}

function describeWorkload(input: DescribeInput, w: Workload): WorkloadDescription {
  const root = input.rootNamespace ?? 'istio-system';
  const suffix = input.domainSuffix ?? 'cluster.local';
  const pa = new PeerAuthenticationIndex(list(input, 'PeerAuthentication')).forWorkload(
    { rootNamespace: root, defaultMode: 'PERMISSIVE' },
    w.namespace,
    w.labels,
  );
  const levels: [string, PeerAuthenticationResource | undefined][] = [
    ['mesh', pa.mesh],
    ['namespace', pa.namespace],
    ['workload', pa.workload],
  ];
  const security = new SecurityPolicyIndex(list(input, 'AuthorizationPolicy'), [], undefined);
  const authz = selectAuthorizationPolicies(
    security,
    {
      kind: 'sidecar',
      namespace: w.namespace,
      labels: w.labels,
      services: w.services.map((s) => s.hostname).sort(),
      serviceSources: w.services.map((s) => s.source).sort(),
    },
    root,
    suffix,
  );
  const ports = [...pa.merged.perPort].map(([p, m]) => `port ${p}: ${m}`);
  return {
    kind: 'workload',
    name: w.name,
    namespace: w.namespace,
    labels: w.labels,
    addresses: [...w.addresses].sort(),
    proxies: proxiesOf(input, w.name, w.namespace),
    peerAuthentication: {
      mode: [pa.merged.mode, ...ports].join(', '),
      policies: levels
        .filter((l): l is [string, PeerAuthenticationResource] => l[1] !== undefined)
        .map(([level, p]) => ({ ...origin(input, p), level, mode: p.spec.mtls?.mode ?? 'UNSET' })),
    },
    authorizationPolicies: authz.policies.map((p) => ({
      ...origin(input, p),
      action: p.spec.action ?? 'ALLOW',
      rules: p.spec.rules?.length ?? 0,
    })),
    services: [...w.services]
      .sort((a, b) => a.hostname.localeCompare(b.hostname))
      .map((s) => describeService(input, s, w.labels)),
  };
}

const from = (o: Origin): string => `${o.name}.${o.namespace}${o.file ? ` (${o.file})` : ''}`;

function renderService(s: DescribedService, indent: string): string[] {
  const out = [`${indent}Service: ${s.hostname} (${s.source})`];
  const i = `${indent}   `;
  for (const p of s.ports) out.push(`${i}Port: ${p}`);
  if (s.destinationRules.length === 0) out.push(`${i}DestinationRule: none`);
  for (const dr of s.destinationRules) {
    out.push(`${i}DestinationRule: ${from(dr)}`);
    if (dr.matchingSubsets.length || dr.otherSubsets.length) {
      out.push(`${i}   Matching subsets: ${dr.matchingSubsets.join(', ') || 'none'}`);
      if (dr.otherSubsets.length) out.push(`${i}   (Non-matching subsets: ${dr.otherSubsets.join(', ')})`);
    }
    out.push(`${i}   Traffic policy: ${dr.trafficPolicy ?? 'none'}`);
  }
  if (s.virtualServices.length === 0) out.push(`${i}VirtualService: none (traffic goes to every instance)`);
  for (const vs of s.virtualServices) {
    out.push(`${i}VirtualService: ${from(vs)}`);
    for (const r of vs.routes) {
      out.push(`${i}   ${r.index}. ${r.match} -> ${r.destinations}${r.policy ? `; ${r.policy}` : ''}`);
    }
  }
  for (const rl of s.rateLimits) out.push(`${i}RateLimit: ${from(rl)}: ${rl.summary}`);
  if (s.rateLimits.length === 0) out.push(`${i}RateLimit: none`);
  return out;
}

export function renderDescription(d: Description): string {
  const out: string[] = [];
  if (d.kind === 'workload') {
    out.push(`Workload: ${d.name}.${d.namespace}`);
    const labels = Object.entries(d.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`);
    out.push(`   Labels: ${labels.join(', ') || 'none'}`);
    out.push(`   Addresses: ${d.addresses.join(', ')}`);
    out.push(`   Proxy: ${d.proxies.join(', ') || 'none connected'}`);
    const pa = d.peerAuthentication;
    out.push(
      `   PeerAuthentication: ${pa.mode}` +
        (pa.policies.length
          ? ` (from ${pa.policies.map((p) => `${p.level} policy ${from(p)}: ${p.mode}`).join('; ')})`
          : ' (no policy: the mesh default)'),
    );
    if (d.authorizationPolicies.length === 0)
      out.push('   AuthorizationPolicies: none (every request allowed)');
    for (const a of d.authorizationPolicies)
      out.push(`   AuthorizationPolicy: ${from(a)}: ${a.action}, ${a.rules} rule${a.rules === 1 ? '' : 's'}`);
    for (const s of d.services) out.push('--------------------', ...renderService(s, ''));
  } else {
    out.push(...renderService(d.service, ''));
    out.push('   Workloads:');
    if (d.workloads.length === 0) out.push('      none');
    for (const w of d.workloads)
      out.push(
        `      ${w.name}.${w.namespace} ${w.addresses.join(',')} (proxy: ${w.proxies.length ? w.proxies.join(', ') : 'none connected'})`,
      );
  }
  return out.join('\n') + '\n';
}
