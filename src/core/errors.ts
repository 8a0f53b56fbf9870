/**
 * One error type with stable codes. Users and tests match on `code`; the message says what
 * was wrong and what was expected, and `path`/`file` point at the offending input.
 */
export const ERROR_CODES = {
  TRELLIS_INVALID_CONFIG: 'a resource or file failed validation',
  TRELLIS_INVALID_ARGUMENT: 'a command-line flag or API argument is malformed',
  TRELLIS_BAD_REQUEST: 'an HTTP request could not be parsed (request line, headers, percent-encoding)',
  TRELLIS_TOO_LARGE: 'a request body or header block is larger than the server accepts',
  TRELLIS_METHOD_NOT_ALLOWED: 'the endpoint exists but does not answer this HTTP method',
  TRELLIS_NOT_FOUND: 'the named resource, proxy or file does not exist',
  TRELLIS_CONFLICT: 'the write lost a revision race; read again and retry',
  TRELLIS_UNSUPPORTED: 'the input uses a feature Trellis does not implement',
  TRELLIS_XDS_NACK: 'a data plane rejected a configuration',
  TRELLIS_UNAUTHENTICATED: 'the request carries no token, or one the server does not know',
  TRELLIS_FORBIDDEN: 'the caller is known but may not do this (a viewer writing, a remote write without a token)',
  TRELLIS_IO: 'a file or socket operation failed',
  TRELLIS_STORE_UNAVAILABLE:
    'the shared config store (etcd) is unreachable: writes are refused, the last state keeps serving',
  TRELLIS_INTERNAL: 'a bug: please report it with the log lines around it',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TrellisErrorOptions {
  /** Field path inside the resource, e.g. `spec.http[0].route`. */
  path?: string;
  /** File the input came from, when it came from one. */
  file?: string;
  cause?: unknown;
}

export class TrellisError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly file: string | undefined;

  constructor(code: ErrorCode, message: string, options: TrellisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrellisError';
    this.code = code;
    this.path = options.path;
    this.file = options.file;
  }

  /** `file: path: message`, leaving out the parts that are unknown. */
  describe(): string {
    return [this.file, this.path, this.message].filter((p) => p !== undefined && p !== '').join(': ');
  }
}

export function isTrellisError(err: unknown, code?: ErrorCode): err is TrellisError {
  return err instanceof TrellisError && (code === undefined || err.code === code);
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof TrellisError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A validation finding: errors reject the input, warnings are reported and accepted. */
export interface Problem {
  severity: 'error' | 'warning';
  /** Field path, e.g. `spec.http[0].route[1].weight`. Empty for the document as a whole. */
  path: string;
  message: string;
}

/** Collects every problem with its path instead of stopping at the first one. */
export class Problems {
  readonly items: Problem[] = [];

  error(path: string, message: string): void {
    this.items.push({ severity: 'error', path, message });
  }

  warning(path: string, message: string): void {
    this.items.push({ severity: 'warning', path, message });
  }

  get errors(): Problem[] {
    return this.items.filter((p) => p.severity === 'error');
  }

  get warnings(): Problem[] {
    return this.items.filter((p) => p.severity === 'warning');
  }

  get ok(): boolean {
    return this.items.every((p) => p.severity !== 'error');
  }
}

export function formatProblem(p: Problem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}
