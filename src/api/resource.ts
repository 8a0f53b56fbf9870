/** The envelope every resource shares, Kubernetes-style. */
export interface ObjectMeta {
  name: string;
  /** Defaults to `default` when a file leaves it out. */
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Store revision at which this resource last changed; set by config stores. */
  resourceVersion?: string;
  /** Creation time, RFC 3339; set by config stores. */
  creationTimestamp?: string;
}

export interface Resource<Spec = unknown> {
  /** As written: `networking.istio.io/v1`, `networking.istio.io/v1beta1`, `trellis.io/v1alpha1`, ... */
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  /**
   * Computed by the control plane, never stored: derivations attach it to the served copy (a
   * Gateway API route's Accepted/ResolvedRefs conditions). What a file says here is ignored.
   */
  status?: unknown;
}

/** Where a resource came from, for error messages: `file:doc`. */
export interface SourceRef {
  file: string;
  /** 1-based index of the YAML document within the file. */
  doc: number;
}

export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function keyOf(r: Resource): string {
  return resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
}
