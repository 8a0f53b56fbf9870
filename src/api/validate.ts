/**
 * The public validation entry points: reading the envelope of a resource (apiVersion, kind,
 * metadata) and validating its spec with the validator registered for its kind.
 */
import { Problems, type Problem } from '../core/errors.js';
import { describeValue, fieldPath, isAbsent, isObject, SpecCheck } from './fields.js';
import { findKind, lookupKind } from './kinds.js';
import { dns1123LabelError, dns1123SubdomainError, labelKeyError, labelValueError } from './names.js';
import type { ObjectMeta, Resource } from './resource.js';
import { checkTrellisAnnotations } from './trellis-annotations.js';

export const DEFAULT_NAMESPACE = 'default';

/** Top-level fields of a document; `status` is written by Kubernetes and ignored. */
const ENVELOPE_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'] as const;
/** The envelope of kinds whose content is top-level (see KindDefinition.topLevel). */
const META_FIELDS = ['apiVersion', 'kind', 'metadata'] as const;

export interface EnvelopeResult {
  /** Set when apiVersion, kind and metadata.name could be read, whatever the spec holds. */
  resource?: Resource;
  /** The document is not a mesh resource (another group, e.g. apps/v1) and was skipped. */
  skipped: boolean;
}

/**
 * Reads and checks apiVersion, kind and metadata of an untyped document, and validates its
 * spec. Problems go to `problems`; `metadata.namespace` defaults to `default`. Only the
 * metadata fields Trellis uses are kept (name, namespace, labels, annotations).
 */
export function readResource(value: unknown, problems: Problems): EnvelopeResult {
  const c = new SpecCheck(problems);
  // The kind decides which top-level fields a document may hold, and a document of a kind
  // Trellis does not read (a ConfigMap beside the Gateways) is skipped before any of its
  // fields are judged.
  const written = isObject(value) ? value : undefined;
  const found =
    typeof written?.apiVersion === 'string' && typeof written.kind === 'string'
      ? lookupKind(written.apiVersion, written.kind)
      : undefined;
  if (found !== undefined && !found.ok && found.skip) {
    problems.warning(found.path, found.message);
    return { skipped: true };
  }
  const topLevel = found?.ok === true ? found.def.topLevel : undefined;
  const doc = c.object(value, '', topLevel === undefined ? ENVELOPE_FIELDS : [...META_FIELDS, ...topLevel]);
  if (doc === undefined) {
    if (isAbsent(value)) c.error('', 'expected a resource with apiVersion, kind, metadata and spec');
    return { skipped: false };
  }
  const apiVersion = c.string(doc, 'apiVersion', '', { required: true });
  const kind = c.string(doc, 'kind', '', { required: true });
  if (found !== undefined && !found.ok) c.error(found.path, found.message);

  const meta = readMetadata(c, doc.metadata);
  if (meta !== undefined) checkTrellisAnnotations(kind ?? '', meta.annotations, problems);
  if (apiVersion === undefined || kind === undefined || meta === undefined) return { skipped: false };
  if (found === undefined || !found.ok) return { skipped: false };
  if (topLevel !== undefined) {
    const spec: Record<string, unknown> = {};
    for (const f of topLevel) if (!isAbsent(doc[f])) spec[f] = doc[f];
    found.def.validate(spec, problems, '');
    return { resource: { apiVersion, kind: found.def.kind, metadata: meta, spec }, skipped: false };
  }
  if (isAbsent(doc.spec)) {
    if (found.def.specOptional !== true) c.error('spec', 'required');
  } else {
    found.def.validate(doc.spec, problems, 'spec');
  }
  // Stored under the registered name (KindDefinition.writtenKind: a kind two groups share).
  return {
    resource: { apiVersion, kind: found.def.kind, metadata: meta, spec: doc.spec ?? {} },
    skipped: false,
  };
}

/**
 * The resource as a user writes it: `spec`, or for kinds with top-level content (Secret) those
 * fields beside metadata. What `trellis apply` sends and the config directory stores.
 */
export function manifestOf(r: Resource): Record<string, unknown> {
  const def = findKind(r.kind);
  const kind = def?.writtenKind ?? r.kind;
  if (def?.topLevel === undefined)
    return { apiVersion: r.apiVersion, kind, metadata: r.metadata, spec: r.spec };
  const content = isObject(r.spec) ? r.spec : {};
  return { apiVersion: r.apiVersion, kind, metadata: r.metadata, ...content };
}

/**
 * The resource as it may be shown outside the store (API answers, `trellis get`, logs): its
 * manifest with secret values replaced (see KindDefinition.redact).
 */
export function shownResource(r: Resource): Record<string, unknown> {
  const def = findKind(r.kind);
  return manifestOf(def?.redact === undefined ? r : { ...r, spec: def.redact(r.spec) });
}

function readMetadata(c: SpecCheck, value: unknown): ObjectMeta | undefined {
  if (isAbsent(value)) {
    c.error('metadata', 'required; must hold at least name');
    return undefined;
  }
  if (!isObject(value)) {
    c.error('metadata', `expected an object, got ${describeValue(value)}`);
    return undefined;
  }
  // Kubernetes adds many metadata fields (uid, generation, managedFields, ...): accept and drop.
  const m = value;
  const name = c.string(m, 'name', 'metadata', { required: true });
  if (name !== undefined) {
    const err = dns1123SubdomainError(name);
    if (err !== undefined) c.error('metadata.name', err);
  }
  const namespace = c.string(m, 'namespace', 'metadata');
  if (namespace !== undefined) {
    const err = dns1123LabelError(namespace);
    if (err !== undefined) c.error('metadata.namespace', err);
  }
  const labels = c.stringMap(m, 'labels', 'metadata');
  for (const [k, v] of labels ?? []) {
    const err = labelKeyError(k) ?? labelValueError(v);
    if (err !== undefined) c.error(fieldPath('metadata.labels', k), err);
  }
  const annotations = c.stringMap(m, 'annotations', 'metadata');
  if (name === undefined) return undefined;
  const meta: ObjectMeta = { name, namespace: namespace || DEFAULT_NAMESPACE };
  if (labels !== undefined) meta.labels = Object.fromEntries(labels);
  if (annotations !== undefined) meta.annotations = Object.fromEntries(annotations);
  return meta;
}

/**
 * Every problem of a resource, envelope and spec, errors and warnings, in document order.
 * For resources that come from somewhere other than a file (HTTP API, etcd, Kubernetes), as
 * written or as stores hold them (a Secret's content under `spec`).
 */
export function validateResource(resource: unknown): Problem[] {
  const problems = new Problems();
  readResource(asWritten(resource), problems);
  return problems.items;
}

/** A stored resource of a kind with top-level content, put back in the shape it is written in. */
function asWritten(value: unknown): unknown {
  if (!isObject(value) || typeof value.kind !== 'string' || !isObject(value.spec)) return value;
  const topLevel = findKind(value.kind)?.topLevel;
  if (topLevel === undefined || topLevel.some((f) => f in value)) return value;
  return manifestOf(value as unknown as Resource);
}
