/**
 * Kubernetes `Namespace` (apiVersion v1), read for its labels only: a Gateway API listener's
 * `allowedRoutes.namespaces.from: Selector` admits routes from namespaces whose labels match.
 * Trellis has no cluster to ask, so the labels come from Namespace documents in the config; every
 * namespace also carries `kubernetes.io/metadata.name: <name>`, as Kubernetes sets it on each one,
 * with or without a document. `spec` (finalizers) is accepted and not used.
 */
import type { Problems } from '../../core/errors.js';
import { SpecCheck } from '../fields.js';

export const NAMESPACE_KIND = 'Namespace';
/** The label Kubernetes puts on every namespace, naming it. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** A Namespace keeps `spec` beside metadata as Kubernetes writes it (finalizers only). */
export const NAMESPACE_FIELDS = ['spec'] as const;

export function validateNamespace(spec: unknown, problems: Problems, path: string): void {
  const c = new SpecCheck(problems);
  const s = c.object(spec, path, NAMESPACE_FIELDS);
  if (s === undefined) return;
  const inner = c.child(s, 'spec', path, ['finalizers']);
  if (inner !== undefined) c.stringList(inner, 'finalizers', 'spec');
}
