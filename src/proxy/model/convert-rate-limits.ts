/**
 * Global rate limiting (envoy.filters.http.ratelimit): the filter's config, and a route's
 * `rate_limits` entries compiled into descriptor builders with Envoy's rules: actions run in
 * order, and a descriptor is sent only when every action produced an entry (a header_value_match
 * that fails, or a missing request header, drops that descriptor).
 */
import { isTrellisError, type Problems } from '../../core/errors.js';
import type { DescriptorBuilder, DescriptorEntry, GlobalRateLimitConfig } from './config.js';
import { compileHeaderMatchers, headerValue, type HeaderMatcherConfig } from '../policy/string-matcher.js';
import { checkFields, durationMs, fieldSet, bool } from './convert-common.js';
import type { Duration__Output } from '../../protocol/envoy-types.js';

export interface RateLimitFilterMsg {
  domain?: string;
  stage?: number;
  request_type?: string;
  timeout?: Duration__Output;
  failure_mode_deny?: boolean;
  rate_limit_service?: {
    grpc_service?: {
      envoy_grpc?: { cluster_name?: string };
      google_grpc?: unknown;
      timeout?: Duration__Output;
    };
    transport_api_version?: string;
  };
  enable_x_ratelimit_headers?: string;
  [field: string]: unknown;
}

const FILTER_FIELDS = fieldSet(
  'domain',
  'stage',
  'request_type',
  'timeout',
  'failure_mode_deny',
  'rate_limit_service',
  'enable_x_ratelimit_headers',
  'stat_prefix',
);

export function convertRateLimitFilter(
  msg: RateLimitFilterMsg,
  path: string,
  problems: Problems,
): GlobalRateLimitConfig | undefined {
  checkFields(msg, path, FILTER_FIELDS, problems);
  if (!msg.domain) problems.error(`${path}.domain`, 'must be non-empty');
  if ((msg.stage ?? 0) !== 0) problems.error(`${path}.stage`, 'only stage 0 is supported');
  const cluster = msg.rate_limit_service?.grpc_service?.envoy_grpc?.cluster_name;
  if (!cluster) {
    problems.error(
      `${path}.rate_limit_service.grpc_service.envoy_grpc.cluster_name`,
      'an envoy_grpc cluster is required (google_grpc is not supported)',
    );
    return undefined;
  }
  return Object.freeze({
    domain: msg.domain ?? '',
    cluster,
    timeoutMs: durationMs(msg.timeout, 20),
    failureModeDeny: msg.failure_mode_deny === true,
    xRateLimitHeaders: msg.enable_x_ratelimit_headers === 'DRAFT_VERSION_03',
  });
}

interface ActionMsg {
  generic_key?: { descriptor_value?: string; descriptor_key?: string };
  header_value_match?: {
    descriptor_value?: string;
    descriptor_key?: string;
    expect_match?: { value?: boolean };
    headers?: HeaderMatcherConfig[];
  };
  request_headers?: { header_name?: string; descriptor_key?: string; skip_if_absent?: boolean };
  remote_address?: object;
  source_cluster?: object;
  destination_cluster?: object;
  [field: string]: unknown;
}

export interface RateLimitMsg {
  stage?: { value?: number };
  actions?: ActionMsg[];
  [field: string]: unknown;
}

type Step = (input: Parameters<DescriptorBuilder>[0]) => DescriptorEntry | 'skip-entry' | undefined;

export function convertRouteRateLimits(
  list: RateLimitMsg[],
  path: string,
  problems: Problems,
): DescriptorBuilder[] {
  return list.map((rl, i) => {
    const p = `${path}[${i}]`;
    checkFields(rl, p, fieldSet('stage', 'actions'), problems);
    if ((rl.stage?.value ?? 0) !== 0) problems.error(`${p}.stage`, 'only stage 0 is supported');
    const steps = (rl.actions ?? []).map((a, j) => action(a, `${p}.actions[${j}]`, problems));
    return (input) => {
      const entries: DescriptorEntry[] = [];
      for (const step of steps) {
        const e = step(input);
        if (e === undefined) return undefined;
        if (e !== 'skip-entry') entries.push(e);
      }
      return entries.length > 0 ? entries : undefined;
    };
  });
}

function action(a: ActionMsg, path: string, problems: Problems): Step {
  if (a.generic_key) {
    const entry = {
      key: a.generic_key.descriptor_key || 'generic_key',
      value: a.generic_key.descriptor_value ?? '',
    };
    return () => entry;
  }
  if (a.header_value_match) {
    const m = a.header_value_match;
    let matches: (headers: Parameters<DescriptorBuilder>[0]['headers']) => boolean = () => false;
    try {
      matches = compileHeaderMatchers(m.headers ?? [], `${path}.header_value_match.headers`);
    } catch (err) {
      problems.error(isTrellisError(err) ? (err.path ?? path) : path, (err as Error).message);
    }
    const expect = bool(m.expect_match, true);
    const entry = { key: m.descriptor_key || 'header_match', value: m.descriptor_value ?? '' };
    return (input) => (matches(input.headers) === expect ? entry : undefined);
  }
  if (a.request_headers) {
    const {
      header_name: name = '',
      descriptor_key: key = '',
      skip_if_absent: skip = false,
    } = a.request_headers;
    if (!name || !key)
      problems.error(`${path}.request_headers`, 'header_name and descriptor_key are required');
    return (input) => {
      const v = headerValue(input.headers, name.toLowerCase());
      if (v === undefined) return skip ? 'skip-entry' : undefined;
      return { key, value: v };
    };
  }
  if (a.remote_address) return (input) => ({ key: 'remote_address', value: input.remoteAddress });
  if (a.source_cluster) return (input) => ({ key: 'source_cluster', value: input.sourceCluster });
  if (a.destination_cluster) return (input) => ({ key: 'destination_cluster', value: input.cluster });
  problems.error(
    path,
    'rate limit action not supported (generic_key, header_value_match, request_headers, remote_address, source_cluster, destination_cluster are)',
  );
  return () => undefined;
}
