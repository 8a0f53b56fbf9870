/**
 * The console's client of the control plane: the bearer token lives in sessionStorage (gone
 * when the tab closes, never in a URL) and goes with every request as `Authorization: Bearer`.
 */
const TOKEN_KEY = 'trellis.console.token';

export interface Problem {
  doc?: number;
  path?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: readonly Problem[] = [],
  ) {
    super(message);
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string; problems?: Problem[] } } | undefined)?.error;
    throw new ApiError(res.status, err?.message ?? `${res.status} ${res.statusText}`, err?.problems ?? []);
  }
  return json as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
