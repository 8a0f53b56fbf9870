/**
 * `trellis explain`, the HTTP filters: what each filter of the connection manager would do to a
 * request, by the filters' own decision modules (policy/fault.ts, the local rate limiter's
 * bucket, RBAC, jwt_authn), in chain order. A dry run: no token is taken (the bucket is only
 * peeked), no counter moves, no service (ext_authz, the global rate limit) is asked.
 */
import type { HttpConnectionManagerConfig, Route, VirtualHost } from '../model/config.js';
import type { HttpFilterRunner } from '../connection-manager/filters.js';
import { httpRbacRequest } from '../connection-manager/authz-request.js';
import { evaluateRbacFilter } from '../connection-manager/authz-filter.js';
import { JWT_AUTHN_FILTER, runJwtAuthn } from '../connection-manager/jwt-filter.js';
import { localReply } from '../connection-manager/local-reply.js';
import { flagMeaning } from './explain-flags.js';
import type { ExplainFailure, ExplainPolicy } from './explain-types.js';

export interface PolicyInput {
  hcm: HttpConnectionManagerConfig;
  route: Route | undefined;
  vh: VirtualHost | undefined;
  method: string;
  path: string;
  authority: string;
  /** With the pseudo-headers. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The cluster the route sends to when it has one target (faults may be limited to one). */
  cluster: string;
  /** The listener's port (RBAC destination_port). */
  port: number;
  filters: HttpFilterRunner;
  /** This proxy's service cluster, for the source_cluster rate limit action. */
  localCluster: string;
  wallNowMs: number;
}

export interface PolicyExplanation {
  policies: ExplainPolicy[];
  failures: ExplainFailure[];
}

const NEVER = () => 0.999_999_999;
const ALWAYS = () => 0;

export async function explainPolicies(input: PolicyInput): Promise<PolicyExplanation> {
  const policies: ExplainPolicy[] = [];
  const failures: ExplainFailure[] = [];
  const metadata: Record<string, unknown> = {};
  let headers = input.headers;
  let stopped = false;
  for (const f of input.hcm.httpFilters) {
    if (f.kind === 'router' || f.kind === 'lanes') continue;
    const add = (effect: ExplainPolicy['effect'], detail: string) =>
      policies.push({ filter: f.name, kind: f.kind, effect, detail });
    if (stopped) {
      add('not-reached', 'an earlier filter answers the request');
      continue;
    }
    const override = input.route?.perFilter.get(f.name) ?? input.vh?.perFilter.get(f.name);
    switch (f.kind) {
      case 'cors': {
        const decision = override?.cors?.(headers, ALWAYS);
        if (decision?.kind === 'preflight') {
          add('pass', `answered locally as a CORS preflight (${decision.status})`);
          stopped = true;
        } else add('pass', override?.cors ? 'CORS headers added to the response' : 'no CORS policy here');
        break;
      }
      case 'fault': {
        const fault = override?.fault ?? f.fault;
        const decide = (random: () => number) =>
          fault.decide({
            headers,
            random,
            upstreamCluster: input.cluster,
            activeFaults: input.filters.faultsActive,
          });
        const sure = decide(NEVER);
        const maybe = decide(ALWAYS);
        const s = fault.summary;
        const notes: string[] = [];
        if (maybe.delayMs !== undefined)
          notes.push(
            `delays ${sure.delayMs !== undefined ? 'every request' : `${s.delay?.percent ?? 0}% of requests`} by ${maybe.delayMs} ms`,
          );
        if (maybe.abort) {
          const status = maybe.abort.httpStatus ?? 200;
          const what =
            maybe.abort.grpcStatus !== undefined ? `gRPC status ${maybe.abort.grpcStatus}` : `${status}`;
          const certain = sure.abort !== undefined;
          notes.push(
            `aborts ${certain ? 'every request' : `${s.abort?.percent ?? 0}% of requests`} with ${what}`,
          );
          failures.push({
            flag: 'FI',
            status: maybe.abort.grpcStatus !== undefined ? 200 : status,
            certainty: certain ? 'certain' : 'possible',
            meaning: flagMeaning('FI'),
            reason: `fault injection (${f.name}) aborts ${certain ? 'every request' : `${s.abort?.percent ?? 0}% of requests`} with ${what}`,
            fix: "remove or lower the fault (the VirtualService's http[].fault.abort for this host) if it is not a test",
          });
          if (certain) stopped = true;
        }
        if (maybe.delayMs !== undefined && maybe.abort === undefined)
          notes.push('(DI in the access log; the request then goes on)');
        if (notes.length === 0) {
          const why =
            s.upstreamCluster !== undefined && s.upstreamCluster !== input.cluster
              ? `applies only to cluster ${s.upstreamCluster}`
              : s.delay || s.abort
                ? 'does not apply to this request (its headers, node or active fault limit)'
                : 'configures no fault here';
          add('pass', `no fault: ${why}`);
        } else add(maybe.abort ? (sure.abort ? 'deny' : 'may-deny') : 'delay', notes.join('; '));
        break;
      }
      case 'local_ratelimit': {
        const peek = input.filters.peekLocalRateLimit(f, input);
        if (!peek) {
          add('pass', 'no local rate limit configured here');
          break;
        }
        const bucket = `${peek.tokens} of ${peek.capacity} token(s) left, ${peek.tokensPerFill} added every ${peek.fillIntervalMs} ms`;
        if (peek.enabledPercent === 0) {
          add('pass', `not enabled (filter_enabled is 0%); ${bucket}`);
          break;
        }
        if (peek.tokens >= 1) {
          add('pass', bucket);
          break;
        }
        if (peek.enforcedPercent === 0) {
          add('pass', `over the limit but not enforced (filter_enforced is 0%): ${bucket}`);
          break;
        }
        const certain = peek.enabledPercent >= 100 && peek.enforcedPercent >= 100;
        add(certain ? 'deny' : 'may-deny', `no tokens left: ${bucket}; the next in ${peek.nextTokenMs} ms`);
        failures.push({
          flag: 'RL',
          status: peek.status,
          certainty: certain ? 'certain' : 'possible',
          meaning: flagMeaning('RL'),
          reason: `local rate limit ${f.name} has no tokens left (${bucket}); the next in ${peek.nextTokenMs} ms`,
          fix: 'send fewer requests, or raise the token bucket (max_tokens, tokens_per_fill) of the local rate limit',
        });
        if (certain) stopped = true;
        break;
      }
      case 'ratelimit': {
        const builders = input.route?.action.kind === 'forward' ? input.route.action.rateLimits : undefined;
        const descriptors = (builders ?? [])
          .map((b) =>
            b({
              headers,
              remoteAddress: '127.0.0.1',
              cluster: input.cluster,
              sourceCluster: input.localCluster,
            }),
          )
          .filter((d) => d !== undefined);
        if (descriptors.length === 0) {
          add('pass', 'the route sends no descriptor to the rate limit service');
          break;
        }
        const text = descriptors.map((d) => `[${d.map((e) => `${e.key}=${e.value}`).join(', ')}]`).join(' ');
        add(
          'not-evaluated',
          `would ask the rate limit service (cluster ${f.config.cluster}, domain ${f.config.domain}) about ${text}; explain does not ask it, which would spend quota`,
        );
        break;
      }
      case 'jwt_authn': {
        const result = await runJwtAuthn(
          f.jwt,
          { method: input.method, path: input.path, authority: input.authority, scheme: 'http', headers },
          input.wallNowMs / 1000,
        );
        if (result.kind === 'deny') {
          const reply = localReply(result.reason);
          const message = result.reason.kind === 'jwt-denied' ? result.reason.message : reply.body.trim();
          add('deny', `the request's JWT is refused: ${message}`);
          failures.push({
            status: reply.status,
            certainty: 'certain',
            meaning: 'denied by JWT authentication (jwt_authn)',
            reason: message,
            fix: 'send a valid token for one of the RequestAuthentication issuers (Authorization: Bearer ...)',
          });
          stopped = true;
          break;
        }
        if (result.setHeaders.length || result.removeHeaders.length) {
          const next = { ...headers };
          for (const h of result.removeHeaders) delete next[h];
          for (const [k, v] of result.setHeaders) next[k] = v;
          headers = next;
        }
        if (Object.keys(result.metadata).length > 0) metadata[JWT_AUTHN_FILTER] = result.metadata;
        add('pass', Object.keys(result.metadata).length ? 'a valid JWT' : 'no JWT required here');
        break;
      }
      case 'rbac': {
        const request = httpRbacRequest({
          headers,
          path: input.path,
          peer: '127.0.0.1',
          localPort: input.port,
          localAddress: '',
          security: undefined,
          clientAddress: input.hcm.clientAddress,
          metadata,
        });
        const decision = evaluateRbacFilter(f.rbac, request, {
          statPrefix: '',
          metadataNamespace: 'envoy.filters.http.rbac',
          metadata,
        });
        if (decision.allowed) {
          add(
            'pass',
            f.rbac.rules ? 'allowed by the authorization policies' : 'enforces nothing (shadow rules only)',
          );
          break;
        }
        const policy = decision.policy
          ? `policy ${decision.policy}`
          : 'the authorization policies (no ALLOW policy matched)';
        add('deny', `would be denied by ${policy}`);
        failures.push({
          status: 403,
          certainty: 'certain',
          meaning: 'denied by RBAC (an AuthorizationPolicy): RBAC: access denied',
          reason: `would be denied by ${policy}`,
          fix: decision.policy
            ? `change the AuthorizationPolicy ${decision.policy.replace(/^ns\[([^\]]*)\]-policy\[([^\]]*)\].*$/, '$2 in namespace $1')} or the request it matches`
            : 'add an ALLOW AuthorizationPolicy rule that matches this request',
        });
        stopped = true;
        break;
      }
      case 'ext_authz':
        add(
          'not-evaluated',
          `would ask the external authorization service (cluster ${f.extAuthz.cluster}); explain does not call it. A denial shows as UAEX`,
        );
        break;
      case 'dynamic_forward_proxy':
        add('pass', 'resolves the Host by DNS for dynamic forward proxy clusters when the request arrives');
        break;
    }
  }
  return { policies, failures };
}
