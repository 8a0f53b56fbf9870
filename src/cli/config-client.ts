/**
 * The CLI's side of the control plane's config API (src/controlplane/config-routes.ts). Unlike
 * http-client.ts it hands back the status and body of a failed call, because a 400 from apply
 * carries every problem, which `trellis apply` prints as file:doc: path: message.
 */
import { TrellisError, errorMessage } from '../core/errors.js';
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

export async function configRequest(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `cannot reach the control plane at ${base} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); ` +
        "is 'trellis control-plane' or 'trellis up' running? Point elsewhere with --control-plane URL or $TRELLIS_CONTROL_PLANE",
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    throw new TrellisError(
      'TRELLIS_IO',
      `${method} ${base}${path}: HTTP ${res.status} with a body that is not JSON; is this a Trellis control plane?`,
    );
  }
  return { status: res.status, json };
}

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
