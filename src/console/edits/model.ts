/**
 * What the console's editors know about a service and what they write: plain resource objects
 * in the shape `trellis apply` takes (the control plane validates them; the console never
 * decides what is valid, so every error it shows is the control plane's, with its field path).
 */
export interface ResourceObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: Record<string, unknown>;
}

/** A service as the editors see it. */
export interface ServiceInfo {
  /** The fully qualified host (`reviews.default.svc.cluster.local`). */
  host: string;
  /** The short name (`reviews`): resource names start with it. */
  name: string;
  namespace: string;
  /** Versions of its workloads (their `version` label), sorted. */
  versions: string[];
}

/** The resources already written for the service's host, in its namespace. */
export interface ServiceConfig {
  virtualService?: ResourceObject;
  destinationRule?: ResourceObject;
  router?: ResourceObject;
}

/** The raw text of a form's inputs, by field name. */
export type FormValues = Readonly<Record<string, string>>;

/** What the console sends: resources to apply, or a reason nothing can be written. */
export type EditPlan = { ok: true; resources: ResourceObject[] } | { ok: false; message: string };

export const OWNER = 'console';

/** The short service name of a host: `reviews.default.svc.cluster.local` -> `reviews`. */
export function shortName(host: string): string {
  return host.split('.')[0] ?? host;
}

/**
 * A form value as JSON: an integer or decimal becomes a number; anything else stays the text
 * typed, so the control plane's validator names the field (`spec.retries.attempts`) rather
 * than the console guessing. Empty: undefined (the field is left out).
 */
export function valueOf(text: string | undefined): string | number | undefined {
  const t = (text ?? '').trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** `obj` without its undefined values, nested objects left out when they end up empty. */
export function compact(obj: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = compact(v as Record<string, unknown>);
      if (inner !== undefined) out[k] = inner;
    } else out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
