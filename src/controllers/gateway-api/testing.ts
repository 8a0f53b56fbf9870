/** Test helpers: Gateway API YAML through the real parser into the derivation. */
import assert from 'node:assert/strict';
import { parseAndValidate } from '../../api/parse.js';
import type { Resource } from '../../api/resource.js';
import type { VirtualService } from '../../api/networking/types.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import type { DerivationResult } from '../derivation.js';
import { deriveGatewayApi } from './derivation.js';

/** Every document of `yaml`, validated; a problem fails the test with its path. */
export function resources(yaml: string): Resource[] {
  const docs = parseAndValidate(yaml, 'test.yaml');
  const errors = docs.flatMap((d) =>
    d.problems
      .filter((p) => p.severity === 'error')
      .map((p) => `doc ${d.source.doc} ${p.path}: ${p.message}`),
  );
  assert.deepEqual(errors, [], 'the YAML is valid');
  return docs.flatMap((d) => (d.resource ? [d.resource] : []));
}

/**
 * The derivation of `yaml`. `services`: the hosts the mesh knows (a backendRef to any other is
 * BackendNotFound); without it every host counts as known.
 */
export function derive(yaml: string, domainSuffix?: string, services?: readonly string[]): DerivationResult {
  const known = services === undefined ? undefined : new Set(services);
  return deriveGatewayApi(
    new FrozenSnapshot(1, resources(yaml)),
    domainSuffix,
    known === undefined ? {} : { hasService: (h) => known.has(h) },
  );
}

export function put(result: DerivationResult, kind: string, namespace?: string): Resource[] {
  return (result.put ?? []).filter(
    (r) => r.kind === kind && (namespace === undefined || r.metadata.namespace === namespace),
  );
}

export function virtualServices(result: DerivationResult): VirtualService[] {
  return put(result, 'VirtualService') as VirtualService[];
}

/** The status conditions of one parent of a route: `{Accepted: 'True/Accepted', ...}`. */
export function routeConditions(
  result: DerivationResult,
  kind: string,
  name: string,
  parent = 0,
): Record<string, string> {
  const r = put(result, kind).find((x) => x.metadata.name === name);
  assert.ok(r, `${kind} ${name} is served with status`);
  const parents = (
    r.status as { parents: { conditions: { type: string; status: string; reason: string }[] }[] }
  ).parents;
  const p = parents[parent];
  assert.ok(p, `${kind} ${name} has status for parent ${parent}`);
  return Object.fromEntries(p.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));
}

export const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: infra }
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 8080
    protocol: HTTP
    allowedRoutes: { namespaces: { from: All } }
`;
