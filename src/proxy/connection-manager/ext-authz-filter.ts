/**
 * envoy.filters.http.ext_authz applied to one request, as Envoy does: skipped when
 * filter_enabled_metadata does not match the request's dynamic metadata (Istio's CUSTOM action:
 * a shadow RBAC filter names the policies that want the check), else one Check call. Allowed:
 * the service's header changes go upstream (and its response headers downstream). Denied: the
 * service's status, headers and body, flag UAEX. No answer: status_on_error (403), flag UAEX,
 * unless failure_mode_allow lets the request through. Stats `cluster.<cluster>.ext_authz.*`.
 */
import type { ExtAuthzConfig } from '../model/config.js';
import type { LocalReplyReason } from './local-reply.js';
import type { CheckInput, ExtAuthzClient, HeaderChange } from './ext-authz-client.js';

export type ExtAuthzResult =
  | { kind: 'skip' }
  | {
      kind: 'continue';
      setHeaders: [string, string][];
      removeHeaders: string[];
      responseHeaders: [string, string][];
    }
  | { kind: 'deny'; reason: LocalReplyReason };

export async function runExtAuthz(
  config: ExtAuthzConfig,
  input: CheckInput,
  metadata: Readonly<Record<string, unknown>>,
  client: ExtAuthzClient | undefined,
  now: number,
  count?: (stat: string) => void,
): Promise<ExtAuthzResult> {
  if (config.enabledBy && !config.enabledBy(metadata)) return { kind: 'skip' };
  const answer = client
    ? await client.check(config, input, now)
    : { kind: 'error' as const, message: 'no ext_authz client' };
  if (answer.kind === 'error') {
    if (config.failureModeAllow) {
      count?.('failure_mode_allowed');
      return {
        kind: 'continue',
        setHeaders: config.failureModeAllowHeaderAdd ? [['x-envoy-auth-failure-mode-allowed', 'true']] : [],
        removeHeaders: [],
        responseHeaders: [],
      };
    }
    count?.('error');
    return { kind: 'deny', reason: { kind: 'ext-authz-error', status: config.statusOnError } };
  }
  if (answer.kind === 'denied') {
    count?.('denied');
    return {
      kind: 'deny',
      reason: {
        kind: 'ext-authz-denied',
        status: answer.status,
        body: answer.body,
        headers: Object.fromEntries(answer.headers),
      },
    };
  }
  count?.('ok');
  return {
    kind: 'continue',
    setHeaders: answer.requestHeaders.map((h) => [h.name, appended(h, input.headers)]),
    removeHeaders: answer.removeHeaders,
    responseHeaders: answer.responseHeaders.map((h) => [h.name, h.value]),
  };
}

function appended(h: HeaderChange, headers: CheckInput['headers']): string {
  const existing = headers[h.name];
  if (!h.append || existing === undefined) return h.value;
  return `${Array.isArray(existing) ? existing.join(',') : existing},${h.value}`;
}
