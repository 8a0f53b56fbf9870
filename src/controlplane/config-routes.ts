/**
 * The config API: read and write Istio/Trellis resources over HTTP (what `trellis apply`,
 * `trellis get` and `trellis delete` call). JSON everywhere; apply also takes YAML.
 *
 *   GET    /v1/config                           the kinds: [{kind, group, versions, names}]
 *   GET    /v1/config/:kind[?namespace=NS]      {kind, revision, items, sources}
 *   GET    /v1/config/:kind/:namespace/:name    the resource
 *   GET    ...?effective=true                   either of the two above as the mesh serves it (after the
 *            derivations: TrafficFilters patched in), each with status {provenance, conflicts,
 *            problems} (effective-config.ts)
 *   POST   /v1/config                           apply one or more resources:
 *            body: a resource, an array of them, or {kind: List, items}   (application/json)
 *                  one or more YAML documents                             (application/yaml)
 *            200 {revision, items, results: [{kind, namespace, name, outcome}], warnings}
 *            400 {error: {code: TRELLIS_INVALID_CONFIG, message, problems: [{file: '<request>',
 *                 doc, path, message}]}}: every problem, nothing applied
 *            409 a resource is defined in a user-written file (the message names it)
 *   DELETE /v1/config/:kind/:namespace/:name    {revision, deleted}; 409 as above
 *
 * :kind is matched case-insensitively, by plural (virtualservices) and by Istio's short names
 * (vs, dr, gw, se, we). Resources are answered as written (a Secret's data beside its metadata),
 * with secret values replaced by `[redacted]`: only certificates are shown. Validation is src/api's, exactly as for files; `doc` is the 1-based
 * YAML document, or array index + 1 for JSON. `sources` maps `namespace/name` to the file a
 * resource is served from, when it comes from one.
 */
import type http from 'node:http';
import { Problems, TrellisError, errorMessage, type Problem } from '../core/errors.js';
import { parseAndValidate, type ParsedDocument } from '../api/parse.js';
import { findKind, registeredKinds, type KindDefinition } from '../api/kinds.js';
import { resourceKey, type Resource } from '../api/resource.js';
import { readResource, shownResource } from '../api/validate.js';
import type { ConfigWriter } from '../config/config-writer.js';
import type { ConfigApi } from './api-views.js';
import type { ApiResult, HttpRouter } from './http-server.js';
import { effectiveGet, effectiveList, wantsEffective } from './effective-config.js';

/** The file name problems of an API request carry. */
export const REQUEST_FILE = '<request>';

/** Istio's short names (`kubectl get vs`), so istioctl users' habits work. */
const SHORT_NAMES: Record<string, readonly string[]> = {
  VirtualService: ['vs'],
  DestinationRule: ['dr'],
  Gateway: ['gw'],
  ServiceEntry: ['se'],
  WorkloadEntry: ['we'],
  Sidecar: [],
  RateLimit: ['rl'],
  TrafficFilter: ['tf'],
  // kubectl's short names for the Gateway API kinds.
  KubernetesGateway: ['gtw'],
  GatewayClass: ['gc'],
  ReferenceGrant: ['refgrant'],
};

function plural(kind: string): string {
  const lower = kind.toLowerCase();
  // policy -> policies, but gateway -> gateways (a vowel before the y).
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return lower.endsWith('s') ? `${lower}es` : `${lower}s`;
}

/** Every name a kind answers to: `virtualservice`, `virtualservices`, `vs`. */
export function kindNames(def: KindDefinition): string[] {
  const names = [def.kind.toLowerCase(), plural(def.kind), ...(SHORT_NAMES[def.kind] ?? [])];
  // A kind stored under another name (KubernetesGateway) also answers to its written name,
  // after the kind that has it (bare `gateways` stays Istio's; `gateways.gateway.networking.k8s.io`).
  if (def.writtenKind !== undefined) names.push(def.writtenKind.toLowerCase(), plural(def.writtenKind));
  return names;
}

/** `vs`, `VirtualServices`, `virtualservice.networking.istio.io` -> the kind's definition. */
export function resolveKind(name: string): KindDefinition {
  const lower = name.toLowerCase();
  for (const def of registeredKinds()) {
    const names = kindNames(def);
    if (names.includes(lower) || names.some((n) => lower === `${n}.${def.group}`)) return def;
  }
  const known = registeredKinds().map((d) => {
    const short = SHORT_NAMES[d.kind] ?? [];
    return short.length ? `${d.kind} (${short.join(', ')})` : d.kind;
  });
  throw new TrellisError(
    'TRELLIS_INVALID_ARGUMENT',
    `unknown kind ${JSON.stringify(name)}; known kinds: ${known.join(', ')}`,
  );
}

interface RequestProblem extends Problem {
  file: string;
  doc: number;
}

/** A JSON body: one resource, an array of them, or a Kubernetes List. */
export function parseJsonBody(text: string): ParsedDocument[] {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `request body is not valid JSON (${errorMessage(err)}); send YAML with content-type application/yaml`,
    );
  }
  const list = value as { kind?: unknown; items?: unknown };
  const items = Array.isArray(value)
    ? (value as unknown[])
    : list && list.kind === 'List' && Array.isArray(list.items)
      ? (list.items as unknown[])
      : [value];
  return items.map((item, i) => {
    const problems = new Problems();
    const { resource, skipped } = readResource(item, problems);
    const doc: ParsedDocument = { source: { file: REQUEST_FILE, doc: i + 1 }, problems: problems.items };
    if (resource && problems.ok) doc.resource = resource;
    if (skipped) doc.skipped = true;
    return doc;
  });
}

function isYaml(req: http.IncomingMessage): boolean {
  return /\b(ya?ml|x-yaml)\b/i.test(req.headers['content-type'] ?? '');
}

/** Validates an apply request: the resources to store, or every problem found. */
function readApplyRequest(docs: ParsedDocument[]): {
  resources: Resource[];
  errors: RequestProblem[];
  warnings: RequestProblem[];
} {
  const errors: RequestProblem[] = [];
  const warnings: RequestProblem[] = [];
  const resources: Resource[] = [];
  const seen = new Map<string, number>();
  for (const d of docs) {
    const at = { file: d.source.file, doc: d.source.doc };
    for (const p of d.problems) (p.severity === 'error' ? errors : warnings).push({ ...at, ...p });
    if (!d.resource) continue;
    const { kind, metadata } = d.resource;
    const key = resourceKey(kind, metadata.namespace, metadata.name);
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({
        ...at,
        severity: 'error',
        path: 'metadata.name',
        message: `${kind} ${metadata.namespace}/${metadata.name} is already defined at ${REQUEST_FILE}:${first}`,
      });
      continue;
    }
    seen.set(key, d.source.doc);
    resources.push(d.resource);
  }
  return { resources, errors, warnings };
}

/** The resource as shown, with the status the control plane computed for it (Gateway API). */
function shownWithStatus(api: ConfigApi, r: Resource): Record<string, unknown> {
  const shown = shownResource(r);
  const status = api.effective?.().snapshot.get(r.kind, r.metadata.namespace, r.metadata.name)?.status;
  return status === undefined ? shown : { ...shown, status };
}

function writerOf(api: ConfigApi): ConfigWriter {
  const writer = api.writer;
  if (!writer) {
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      "this control plane's config store is read-only; change the config at its source",
    );
  }
  return writer;
}

/**
 * Applies parsed documents as POST /v1/config does (the console's edits go through it too): every
 * problem with its field path and nothing applied, or the results.
 */
export async function applyDocuments(
  api: ConfigApi,
  docs: ParsedDocument[],
): Promise<NonNullable<ApiResult>> {
  const { resources, errors, warnings } = readApplyRequest(docs);
  if (errors.length === 0 && resources.length === 0) {
    errors.push({
      file: REQUEST_FILE,
      doc: 0,
      severity: 'error',
      path: '',
      message: 'no mesh resources in the request (nothing to apply)',
    });
  }
  if (errors.length > 0) {
    return {
      status: 400,
      json: {
        error: {
          code: 'TRELLIS_INVALID_CONFIG',
          message: `${errors.length} problem(s) in the request; nothing was applied`,
          problems: errors,
        },
        warnings,
      },
    };
  }
  const result = await writerOf(api).apply(resources);
  return {
    json: {
      revision: result.revision,
      items: result.applied.map((a) => shownResource(a.resource)),
      results: result.applied.map((a) => ({
        // As written (the Gateway API's Gateway is stored as KubernetesGateway).
        kind: findKind(a.resource.kind)?.writtenKind ?? a.resource.kind,
        namespace: a.resource.metadata.namespace,
        name: a.resource.metadata.name,
        outcome: a.outcome,
      })),
      warnings,
    },
  };
}

export function registerConfigRoutes(router: HttpRouter, api: ConfigApi): void {
  router
    .on('GET', '/v1/config', () => ({
      json: registeredKinds().map((d) => ({
        kind: d.kind,
        group: d.group,
        versions: d.versions,
        names: kindNames(d),
      })),
    }))
    .on('GET', '/v1/config/:kind', (req) => {
      const def = resolveKind(req.params.kind ?? '');
      const namespace = req.query.get('namespace') || undefined;
      const served = wantsEffective(req.query) ? effectiveList(api, def.kind, namespace) : undefined;
      const items = served?.map((s) => s.resource) ?? api.store.list(def.kind, namespace);
      const writer = api.writer;
      const sources: Record<string, string> = {};
      for (const r of items) {
        const file = writer?.origin(r.kind, r.metadata.namespace, r.metadata.name);
        if (file !== undefined) sources[`${r.metadata.namespace}/${r.metadata.name}`] = file;
      }
      return {
        json: {
          kind: def.kind,
          revision: api.store.revision,
          items: served?.map((s) => s.shown) ?? items.map((r) => shownWithStatus(api, r)),
          sources,
        },
      };
    })
    .on('GET', '/v1/config/:kind/:namespace/:name', (req) => {
      const def = resolveKind(req.params.kind ?? '');
      const { namespace = '', name = '' } = req.params;
      if (wantsEffective(req.query)) return { json: effectiveGet(api, def.kind, namespace, name) };
      const r = api.store.get(def.kind, namespace, name);
      if (!r) {
        throw new TrellisError(
          'TRELLIS_NOT_FOUND',
          `${def.kind} ${namespace}/${name} not found (trellis get ${def.kind.toLowerCase()} -A lists them)`,
        );
      }
      return { json: shownWithStatus(api, r) };
    })
    .on('POST', '/v1/config', async (req) => {
      const text = await req.text();
      if (text.trim() === '')
        throw new TrellisError('TRELLIS_INVALID_ARGUMENT', 'empty request: send one or more resources');
      const docs = isYaml(req.raw) ? parseAndValidate(text, REQUEST_FILE) : parseJsonBody(text);
      return await applyDocuments(api, docs);
    })
    .on('DELETE', '/v1/config/:kind/:namespace/:name', async (req) => {
      const def = resolveKind(req.params.kind ?? '');
      const { namespace = '', name = '' } = req.params;
      const result = await writerOf(api).delete(def.kind, namespace, name);
      return { json: { revision: result.revision, deleted: shownResource(result.deleted) } };
    });
}
