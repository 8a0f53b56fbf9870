/**
 * The effective DestinationRule traffic policy for one cluster, merged as Istio does: the
 * rule's top level, overridden by its portLevelSettings for the port, then by the subset's
 * policy, then by the subset's portLevelSettings. Each of loadBalancer / connectionPool /
 * outlierDetection / tls replaces the one before it as a whole.
 */
import type {
  DestinationRuleSpec,
  PortTrafficPolicy,
  Subset,
  TrafficPolicy,
} from '../../api/networking/types.js';

export type EffectivePolicy = Omit<TrafficPolicy, 'portLevelSettings'>;

function overlay(base: EffectivePolicy, top: TrafficPolicy | PortTrafficPolicy | undefined): EffectivePolicy {
  if (top === undefined) return base;
  const out: EffectivePolicy = { ...base };
  if (top.loadBalancer !== undefined) out.loadBalancer = top.loadBalancer;
  if (top.connectionPool !== undefined) out.connectionPool = top.connectionPool;
  if (top.outlierDetection !== undefined) out.outlierDetection = top.outlierDetection;
  if (top.tls !== undefined) out.tls = top.tls;
  return out;
}

function portLevel(policy: TrafficPolicy | undefined, port: number): PortTrafficPolicy | undefined {
  return policy?.portLevelSettings?.find((p) => p.port.number === port);
}

export function effectivePolicy(
  rule: DestinationRuleSpec | undefined,
  port: number,
  subset?: Subset,
): EffectivePolicy {
  let out: EffectivePolicy = {};
  if (rule === undefined) return out;
  out = overlay(out, rule.trafficPolicy);
  out = overlay(out, portLevel(rule.trafficPolicy, port));
  if (subset !== undefined) {
    out = overlay(out, subset.trafficPolicy);
    out = overlay(out, portLevel(subset.trafficPolicy, port));
  }
  return out;
}
