/**
 * The CLI's side of the control plane's config API (src/controlplane/config-routes.ts). Unlike
 * http-client.ts it hands back the status and body of a failed call, because a 400 from apply
 * carries every problem, which `trellis apply` prints as file:doc: path: message.
 */
import { TrellisError } from '../core/errors.js';
import type { Problem } from '../core/errors.js';
import type { Resource } from '../api/resource.js';

export interface RequestProblem extends Problem {
  file: string;
  doc: number;
}

export interface ApplyResponse {
  revision: number;
  items: Resource[];
  results: { kind: string; namespace: string; name: string; outcome: string }[];
  warnings: RequestProblem[];
}

export interface ApiErrorBody {
  error?: { code?: string; message?: string; problems?: RequestProblem[] };
}

export interface ListResponse {
  kind: string;
  revision: number;
  items: Resource[];
  sources: Record<string, string>;
}

/** The control plane call with its status and JSON body; defined once in http-client.ts. */
export { controlPlaneRequest as configRequest } from './http-client.js';

/** Throws the server's error (its message says what to do) unless the call succeeded. */
export function expectOk<T>(r: { status: number; json: unknown }, what: string): T {
  if (r.status >= 200 && r.status < 300) return r.json as T;
  const e = (r.json as ApiErrorBody | undefined)?.error;
  const code =
    r.status === 404
      ? 'TRELLIS_NOT_FOUND'
      : r.status === 409
        ? 'TRELLIS_CONFLICT'
        : e?.code === 'TRELLIS_INVALID_ARGUMENT'
          ? 'TRELLIS_INVALID_ARGUMENT'
          : 'TRELLIS_IO';
  throw new TrellisError(code, e?.message ?? `${what}: HTTP ${r.status}`);
}

/** `virtualservice.networking.istio.io/reviews`, as kubectl names a resource in its output. */
export function qualifiedName(r: { apiVersion?: string; kind: string; name: string }): string {
  const group = r.apiVersion?.includes('/') ? r.apiVersion.slice(0, r.apiVersion.lastIndexOf('/')) : '';
  return `${r.kind.toLowerCase()}${group ? `.${group}` : ''}/${r.name}`;
}
