import { TrellisError, errorMessage } from '../core/errors.js';

/** Base URL of the control plane's HTTP API: flag, then $TRELLIS_CONTROL_PLANE, then the default port. */
export function controlPlaneUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = flag ?? env.TRELLIS_CONTROL_PLANE ?? 'http://127.0.0.1:15014';
  return (/^https?:\/\//.test(raw) ? raw : `http://${raw}`).replace(/\/+$/, '');
}

/**
 * One call to the control plane's HTTP API: status and parsed JSON body, whatever the status
 * (a 400 from apply carries every problem). An unreachable control plane or a body that is not
 * JSON is an error that says what to do.
 */
export async function controlPlaneRequest(
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
  try {
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  } catch {
    throw new TrellisError(
      'TRELLIS_IO',
      `${method} ${base}${path}: HTTP ${res.status} with a body that is not JSON; is this a Trellis control plane?`,
    );
  }
}

/** GET a JSON document, turning an error status into the server's own message. */
export async function apiGet(base: string, path: string): Promise<unknown> {
  const r = await controlPlaneRequest(base, 'GET', path);
  if (r.status >= 200 && r.status < 300) return r.json;
  const e = (r.json as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw new TrellisError(
    r.status === 404 ? 'TRELLIS_NOT_FOUND' : 'TRELLIS_IO',
    e?.message ?? `GET ${path}: HTTP ${r.status}`,
  );
}
