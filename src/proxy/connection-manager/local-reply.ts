/**
 * The one place where a failure becomes a response: its status and a short plain-text body
 * saying what happened; the bodies follow Envoy's wording so people can search for them. The
 * response flag each reason earns is response-flags.ts's to set.
 */

export type LocalReplyReason =
  | { kind: 'no-route'; authority: string; path: string }
  | { kind: 'no-cluster'; cluster: string; status?: number | undefined }
  | { kind: 'no-healthy-upstream'; cluster: string }
  | { kind: 'connect-failure'; cluster: string; detail: string }
  | { kind: 'upstream-reset'; cluster: string; detail: string }
  | { kind: 'overflow'; cluster: string }
  | { kind: 'timeout' }
  /** `requestComplete`: the client had sent its whole request (Envoy: 504, else 408). */
  | { kind: 'stream-idle-timeout'; requestComplete: boolean }
  /** The request body outgrew the retry buffer while a retry waited (Envoy: 507). */
  | { kind: 'retry-buffer-overflow' }
  | { kind: 'bad-request'; detail: string }
  /** An Upgrade the connection manager does not enable (Envoy: 403, details upgrade_failed). */
  | { kind: 'upgrade-refused'; protocol: string }
  /** path_with_escaped_slashes_action UNESCAPE_AND_REDIRECT. */
  | { kind: 'path-redirect'; location: string }
  | { kind: 'fault-abort'; status: number; grpcStatus?: number | undefined }
  | { kind: 'rate-limited'; status: number; grpcStatus?: number | undefined }
  | { kind: 'rate-limit-service-error'; detail: string }
  /** envoy.filters.http.rbac denied the request; `policy` is the matched one (DENY) or none. */
  | { kind: 'rbac-denied'; policy?: string | undefined }
  /** envoy.filters.http.jwt_authn: 401 (403 for audiences), jwt_verify_lib's text as the body. */
  | {
      kind: 'jwt-denied';
      status: number;
      message: string;
      wwwAuthenticate?: string | undefined;
      /** strip_failure_response: no body and no challenge. */
      strip?: boolean;
    }
  /** The ext_authz service denied the request: its status, headers and body. */
  | { kind: 'ext-authz-denied'; status: number; body: string; headers: Readonly<Record<string, string>> }
  /** The ext_authz service could not be asked (status_on_error, default 403). */
  | { kind: 'ext-authz-error'; status: number }
  /** The dynamic forward proxy could not resolve the request's host (Envoy: 503, DF). */
  | { kind: 'dns-resolution-failure'; host: string; detail: string }
  /** Its DNS cache had too many lookups waiting, or too many hosts (Envoy: 503). */
  | { kind: 'dns-cache-overflow'; what: 'pending-overflow' | 'host-overflow' }
  /** The Host names the listener the request came in on: passing it through would loop. */
  | { kind: 'passthrough-loop'; authority: string };

export interface LocalReply {
  status: number;
  body: string;
  /** For gRPC requests, when the cause names a gRPC status (fault grpc_status, rate limit). */
  grpcStatus?: number | undefined;
  /** Headers the reply carries whatever the protocol. */
  headers?: Readonly<Record<string, string>>;
}

/** A circuit breaker's 503 tells a retrying client proxy not to retry it here (Envoy). */
const OVERLOADED = Object.freeze({ 'x-envoy-overloaded': 'true' });

/**
 * Envoy's %RESPONSE_CODE_DETAILS% for the replies whose details the access log prints
 * (`rbac_access_denied_matched_policy[<policy>]`, `jwt_authn_access_denied{<status>}`).
 */
export function responseCodeDetails(reason: LocalReplyReason): string | undefined {
  switch (reason.kind) {
    case 'rbac-denied':
      return `rbac_access_denied_matched_policy[${(reason.policy ?? 'none').replace(/\s/g, '_')}]`;
    case 'jwt-denied':
      return `jwt_authn_access_denied{${reason.message.replace(/\s/g, '_')}}`;
    case 'ext-authz-denied':
      return 'ext_authz_denied';
    case 'ext-authz-error':
      return 'ext_authz_error';
    case 'dns-resolution-failure':
      return 'dns_resolution_failure';
    case 'dns-cache-overflow':
      return reason.what === 'pending-overflow'
        ? 'dynamic_forward_proxy_pending_request_overflow'
        : 'dns_cache_overflow';
    default:
      return undefined;
  }
}

export function localReply(reason: LocalReplyReason): LocalReply {
  switch (reason.kind) {
    case 'no-route':
      return { status: 404, body: `no route for ${reason.authority}${reason.path}\n` };
    case 'no-cluster':
      return { status: reason.status ?? 503, body: `cluster not found: ${reason.cluster}\n` };
    case 'no-healthy-upstream':
      return { status: 503, body: 'no healthy upstream\n' };
    case 'connect-failure':
      return {
        status: 503,
        body: `upstream connect error or disconnect/reset before headers. reset reason: connection failure, ${reason.detail}\n`,
      };
    case 'upstream-reset':
      return {
        status: 503,
        body: `upstream connect error or disconnect/reset before headers. reset reason: remote reset, ${reason.detail}\n`,
      };
    case 'overflow':
      return {
        status: 503,
        body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow\n',
        headers: OVERLOADED,
      };
    case 'timeout':
      return { status: 504, body: 'upstream request timeout\n' };
    case 'stream-idle-timeout':
      return { status: reason.requestComplete ? 504 : 408, body: 'stream timeout\n' };
    case 'retry-buffer-overflow':
      return { status: 507, body: 'exceeded request buffer limit while retrying upstream\n' };
    case 'bad-request':
      return { status: 400, body: `bad request: ${reason.detail}\n` };
    case 'upgrade-refused':
      return { status: 403, body: `upgrade to ${reason.protocol} is not enabled\n` };
    case 'path-redirect':
      return { status: 307, body: '' };
    case 'fault-abort':
      return {
        status: reason.status,
        body: 'fault filter abort\n',
        grpcStatus: reason.grpcStatus,
      };
    case 'rate-limit-service-error':
      return { status: 500, body: `rate limit service error: ${reason.detail}\n` };
    case 'rate-limited':
      return {
        status: reason.status,
        body: 'local_rate_limited\n',
        grpcStatus: reason.grpcStatus,
      };
    case 'rbac-denied':
      // Envoy's exact body (no newline): clients and tests compare it.
      return { status: 403, body: 'RBAC: access denied' };
    case 'ext-authz-denied':
      return { status: reason.status, body: reason.body, headers: reason.headers };
    case 'ext-authz-error':
      return { status: reason.status, body: '' };
    case 'dns-resolution-failure':
      // Envoy's words first; then what to do about it.
      return {
        status: 503,
        body: `DNS resolution failure for ${reason.host} (${reason.detail}): check the host name, or add a ServiceEntry so the mesh knows it\n`,
      };
    case 'passthrough-loop':
      return {
        status: 508,
        body: `loop detected: ${reason.authority} is this proxy's own listener; call the service by its name, not the sidecar's address\n`,
      };
    case 'dns-cache-overflow':
      return {
        status: 503,
        body:
          reason.what === 'pending-overflow'
            ? 'Dynamic forward proxy pending request overflow: too many DNS lookups at once; retry later\n'
            : 'DNS cache overflow: too many hosts passed through; add ServiceEntries for the hosts you call often\n',
        headers: OVERLOADED,
      };
    case 'jwt-denied':
      if (reason.strip === true) return { status: reason.status, body: '' };
      return {
        status: reason.status,
        body: reason.message,
        ...(reason.wwwAuthenticate ? { headers: { 'www-authenticate': reason.wwwAuthenticate } } : {}),
      };
  }
}

/** gRPC status for a locally generated HTTP status, as Envoy maps it for gRPC requests. */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}
