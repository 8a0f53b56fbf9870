import { TrellisError } from '../core/errors.js';

/** `--prometheus-url URL`: an http(s) URL of a Prometheus server (its query API is under /api/v1). */
export function parsePrometheusUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL('invalid:');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '')
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--prometheus-url ${JSON.stringify(value)}: expected the http(s) URL of a Prometheus server, e.g. http://127.0.0.1:9090`,
    );
  return value.replace(/\/+$/, '');
}
