/** `GET /v1/graph`'s query parameters, checked: a bad one is a 400 saying what is expected. */
import { TrellisError } from '../../core/errors.js';
import { DEFAULT_WINDOW_SECONDS, GRAPH_TYPES, MAX_WINDOW_SECONDS, type GraphQuery } from './graph-service.js';
import type { GraphType } from './types.js';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseGraphQuery(query: URLSearchParams): GraphQuery {
  const type = query.get('type') ?? 'versionedApp';
  if (!(GRAPH_TYPES as readonly string[]).includes(type))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `type=${JSON.stringify(type)}: expected one of ${GRAPH_TYPES.join(', ')}`,
    );
  const rawWindow = query.get('window');
  let windowSeconds = DEFAULT_WINDOW_SECONDS;
  if (rawWindow !== null) {
    if (!/^\d+$/.test(rawWindow) || Number(rawWindow) < 1 || Number(rawWindow) > MAX_WINDOW_SECONDS)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `window=${JSON.stringify(rawWindow)}: expected whole seconds from 1 to ${MAX_WINDOW_SECONDS}`,
      );
    windowSeconds = Number(rawWindow);
  }
  const namespace = query.get('namespace');
  if (namespace !== null && namespace !== '' && !NAMESPACE.test(namespace))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `namespace=${JSON.stringify(namespace)}: expected a namespace name (lower-case letters, digits, '-')`,
    );
  return { type: type as GraphType, windowSeconds, ...(namespace ? { namespace } : {}) };
}
