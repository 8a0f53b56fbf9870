/**
 * RouteMatch -> the compiled match (path kind, case, header and query parameter matchers, gRPC
 * only, dynamic metadata): shared by route tables (convert-route.ts) and jwt_authn's rules,
 * which use Envoy's RouteMatch too. Its own module so that filter converters can use it without
 * a cycle through the route converter. jwt_authn's rules run before any metadata exists, so
 * they refuse dynamic_metadata (`{ routes: false }`).
 */
import type { Problems } from '../../core/errors.js';
import { compileHeaderMatcher, compileQueryParameterMatcher } from '../policy/string-matcher.js';
import { describeHeaderMatcher, describeQueryMatcher } from '../policy/matcher-explain.js';
import { compileMetadataMatcher, type MetadataMatcherConfig } from '../policy/rbac.js';
import type { MatchCondition, PathMatch, RouteMatch } from './config.js';
import { bool, checkFields, compileRegex, compiled, fieldSet } from './convert-common.js';
import type { RouteMatch__Output } from '../../protocol/envoy-types.js';

const MATCH_FIELDS = fieldSet(
  'prefix',
  'path',
  'safe_regex',
  'path_separated_prefix',
  'case_sensitive',
  'headers',
  'query_parameters',
  'grpc',
  'dynamic_metadata',
);

export function convertMatch(
  m: RouteMatch__Output,
  path: string,
  problems: Problems,
  opts: { routes: boolean } = { routes: true },
): RouteMatch {
  checkFields(m, path, MATCH_FIELDS, problems);
  const metadata = m.dynamic_metadata ?? [];
  if (!opts.routes && metadata.length > 0)
    problems.error(
      `${path}.dynamic_metadata`,
      'is not supported here: only route matches read dynamic metadata',
    );
  const caseSensitive = bool(m.case_sensitive, true);
  let pm: PathMatch;
  if (m.prefix !== undefined) pm = { kind: 'prefix', value: m.prefix };
  else if (m.path !== undefined) pm = { kind: 'path', value: m.path };
  else if (m.path_separated_prefix !== undefined) pm = { kind: 'separated', value: m.path_separated_prefix };
  else if (m.safe_regex !== undefined) {
    pm = {
      kind: 'regex',
      value: m.safe_regex.regex ?? '',
      regex: compileRegex(m.safe_regex.regex, `${path}.safe_regex.regex`, problems, caseSensitive ? '' : 'i'),
    };
  } else {
    problems.error(path, 'expected one of prefix, path, safe_regex, path_separated_prefix');
    pm = { kind: 'prefix', value: '/' };
  }
  if (!caseSensitive && pm.kind !== 'regex') pm.value = pm.value.toLowerCase();
  type Headers = Parameters<RouteMatch['headers']>[0];
  type Query = Parameters<NonNullable<RouteMatch['query']>>[0];
  const headers = compiled<MatchCondition<Headers>[]>(
    () =>
      (m.headers ?? []).map((h, i) => ({
        describe: describeHeaderMatcher(h),
        test: compileHeaderMatcher(h, `${path}.headers[${i}]`),
      })),
    problems,
    [{ describe: 'a header matcher that failed to compile', test: () => true }],
  );
  const query = compiled<MatchCondition<Query>[]>(
    () =>
      (m.query_parameters ?? []).map((q, i) => ({
        describe: describeQueryMatcher(q),
        test: compileQueryParameterMatcher(q, `${path}.query_parameters[${i}]`),
      })),
    problems,
    [{ describe: 'a query matcher that failed to compile', test: () => false }],
  );
  const out: RouteMatch = {
    path: Object.freeze(pm),
    caseSensitive,
    headers: headers.length === 0 ? () => true : (h) => headers.every((c) => c.test(h)),
    query: query.length === 0 ? undefined : (q) => query.every((c) => c.test(q)),
    grpcOnly: m.grpc !== undefined,
    conditions: { headers, query },
  };
  if (opts.routes && metadata.length > 0) {
    const matchers = metadata.map((md, i) =>
      compiled(
        () => compileMetadataMatcher(md as MetadataMatcherConfig, `${path}.dynamic_metadata[${i}]`),
        problems,
        () => false,
      ),
    );
    out.metadata = (md) => matchers.every((match) => match(md));
  }
  return Object.freeze(out);
}
