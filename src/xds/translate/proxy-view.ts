/**
 * The per-proxy inputs every generator starts from, derived once per call: the proxy's scope
 * (Sidecar + visible services), the DestinationRules that apply, its inbound ports. Only the
 * derived values enter generator keys, never raw labels or addresses, so proxies that derive
 * the same values share generated output.
 */
import { portProtocol } from '../../api/hosts.js';
import type { DestinationRuleSpec, Subset } from '../../api/networking/types.js';
import type { Service, ServicePort } from '../../registry/types.js';
import type { ProxyNode } from '../proxy-node.js';
import { isHttp2Port, isHttpPort, type Flavor } from './cluster.js';
import { localityMatters } from './endpoints.js';
import { digest } from './memo.js';
import type { PushContext } from './push-context.js';
import { proxyScope, ruleView, type ProxyScope, type RuleView } from './scope.js';
import { effectivePolicy, type EffectivePolicy } from './traffic-policy.js';

export interface InboundPort {
  servicePort: number;
  listenAddress: string;
  listenPort: number;
  /** Where the application listens (on localhost). */
  targetPort: number;
  http: boolean;
  http2: boolean;
}

export interface ProxyView {
  readonly flavor: Flavor;
  readonly scope: ProxyScope;
  readonly rules: RuleView;
}

/** The view of a proxy: derived once per push for each (type, namespace, labels) seen. */
export function proxyView(push: PushContext, proxy: ProxyNode): ProxyView {
  // Exactly the proxy fields the scope and rule view read.
  const facets = `view|${proxy.type}|${proxy.namespace}|${JSON.stringify(proxy.labels)}`;
  return push.index.perPush(facets, () => {
    const scope = proxyScope(push, proxy);
    return { flavor: proxy.type === 'grpc' ? 'grpc' : 'envoy', scope, rules: ruleView(push, proxy, scope) };
  });
}

export function ruleSpec(view: ProxyView, host: string): DestinationRuleSpec | undefined {
  return view.rules.rules.get(host)?.spec;
}

export function findSubset(rule: DestinationRuleSpec | undefined, name: string): Subset | undefined {
  return rule?.subsets?.find((s) => s.name === name);
}

export function policyFor(view: ProxyView, host: string, port: number, subset?: Subset): EffectivePolicy {
  return effectivePolicy(ruleSpec(view, host), port, subset);
}

/**
 * The workload ports this sidecar fronts. A Sidecar with `ingress` listeners says it exactly
 * (listen on the port, forward to defaultEndpoint); otherwise the service instances registered
 * at the proxy's IPs do (listen on the instance address and port, forward to localhost).
 */
export function inboundPorts(push: PushContext, proxy: ProxyNode, scope: ProxyScope): InboundPort[] {
  if (proxy.type !== 'sidecar') return [];
  const out = new Map<number, InboundPort>();
  const ingress = scope.sidecar?.spec.ingress ?? [];
  if (ingress.length > 0) {
    for (const l of ingress) {
      const protocol = portProtocol(l.port.name, l.port.protocol);
      const target = /:(\d+)$/.exec(l.defaultEndpoint ?? '');
      const http2 = protocol === 'HTTP2' || protocol === 'GRPC';
      out.set(l.port.number, {
        servicePort: l.port.number,
        listenAddress: l.bind ?? '0.0.0.0',
        listenPort: l.port.number,
        targetPort: target ? Number(target[1]) : (l.port.targetPort ?? l.port.number),
        http: http2 || protocol === 'HTTP',
        http2,
      });
    }
    return [...out.values()];
  }
  for (const ep of push.index.instancesAt(proxy.ipAddresses)) {
    const svc = push.index.service(ep.hostname);
    if (svc === undefined) continue;
    for (const p of svc.ports) {
      if (out.has(p.number)) continue;
      const target = ep.ports[p.name] ?? p.number;
      out.set(p.number, {
        servicePort: p.number,
        listenAddress: ep.address,
        listenPort: target,
        targetPort: target,
        http: isHttpPort(p),
        http2: isHttp2Port(p),
      });
    }
  }
  return [...out.values()].sort((a, b) => a.servicePort - b.servicePort);
}

export function inboundKey(ports: readonly InboundPort[]): string {
  return ports
    .map(
      (p) =>
        `${p.servicePort}>${p.listenAddress}:${p.listenPort}>${p.targetPort}${p.http2 ? 'h2' : p.http ? 'h' : 't'}`,
    )
    .join(',');
}

/** Digest of the endpoint sets of every visible service (per scope, per push). */
export function endpointsKey(push: PushContext, scope: ProxyScope): string {
  // Per push: the endpoints are this push's, which the scope key does not name.
  return push.index.perPush(`epkey|${scope.key}`, () =>
    digest(scope.services.map((s) => push.index.endpointsFingerprint(s.hostname)).join(',')),
  );
}

/** Whether any rule in view makes EDS depend on the proxy's locality. */
export function localitySensitive(push: PushContext, view: ProxyView): boolean {
  return push.index.cached(`locsens|${view.scope.key}|${view.rules.key}`, () => {
    for (const rule of view.rules.rules.values()) {
      const policies = [
        rule.spec.trafficPolicy,
        ...(rule.spec.trafficPolicy?.portLevelSettings ?? []),
        ...(rule.spec.subsets ?? []).map((s) => s.trafficPolicy),
      ];
      // Conservative: any outlier detection or distribute anywhere in the rule counts, since
      // subset and port overrides combine them in ways not worth predicting here.
      for (const p of policies) {
        if (p === undefined) continue;
        if (p.outlierDetection !== undefined) return true;
        if (localityMatters(p.loadBalancer?.localityLbSetting, false)) return true;
      }
    }
    return false;
  });
}

/** Service ports of `port` number that carry HTTP. */
export function httpPortOf(service: Service, port: number): ServicePort | undefined {
  return service.ports.find((p) => p.number === port && isHttpPort(p));
}
