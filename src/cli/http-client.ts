import { TrellisError, errorMessage } from '../core/errors.js';

/** Base URL of the control plane's HTTP API: flag, then $TRELLIS_CONTROL_PLANE, then the default port. */
export function controlPlaneUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = flag ?? env.TRELLIS_CONTROL_PLANE ?? 'http://127.0.0.1:15014';
  return (/^https?:\/\//.test(raw) ? raw : `http://${raw}`).replace(/\/+$/, '');
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
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
      `cannot reach the control plane at ${base} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); is 'trellis control-plane' or 'trellis up' running? Use --control-plane URL to point elsewhere`,
    );
  }
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const code =
      e?.code === 'TRELLIS_NOT_FOUND'
        ? 'TRELLIS_NOT_FOUND'
        : e?.code === 'TRELLIS_INVALID_CONFIG'
          ? 'TRELLIS_INVALID_CONFIG'
          : 'TRELLIS_IO';
    throw new TrellisError(code, e?.message ?? `${method} ${path}: HTTP ${res.status}`);
  }
  return json ?? text;
}

export const apiGet = (base: string, path: string) => call(base, 'GET', path);
export const apiPost = (base: string, path: string, body?: unknown) => call(base, 'POST', path, body);
export const apiPut = (base: string, path: string, body?: unknown) => call(base, 'PUT', path, body);
export const apiDelete = (base: string, path: string) => call(base, 'DELETE', path);
