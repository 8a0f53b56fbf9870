/**
 * The parts of an access log entry beyond its logger: the CEL filter Istio writes for a
 * Telemetry filter expression (`extension_filter` named `envoy.access_loggers.extension_filters.cel`,
 * an ExpressionFilter) and a JSON `log_format` (`json_format`: field -> format string). Other
 * filter kinds are refused (NACK) rather than ignored: a log the operator narrowed must not
 * suddenly print everything.
 */
import type { Problems } from '../../core/errors.js';
import { TYPE, unpackAny } from '../../protocol/protos.js';
import type { AccessLogFilter__Output } from '../../protocol/generated/envoy/config/accesslog/v3/AccessLogFilter.js';
import type { SubstitutionFormatString__Output } from '../../protocol/generated/envoy/config/core/v3/SubstitutionFormatString.js';
import { compileAccessLogFilter, type AccessLogFilter } from '../policy/access-log-filter.js';

export const CEL_FILTER_NAME = 'envoy.access_loggers.extension_filters.cel';

export function convertAccessLogFilter(
  filter: AccessLogFilter__Output,
  path: string,
  problems: Problems,
): AccessLogFilter | undefined {
  const ext = filter.extension_filter;
  if (filter.filter_specifier !== 'extension_filter' || ext === undefined) {
    problems.error(
      path,
      `access log filter ${JSON.stringify(filter.filter_specifier ?? '')} is not supported (the CEL extension filter is)`,
    );
    return undefined;
  }
  const any = ext.typed_config;
  if (any?.type_url !== TYPE.celAccessLogFilter) {
    problems.error(
      `${path}.extension_filter.typed_config`,
      `access log filter ${JSON.stringify(any?.type_url ?? ext.name)} is not supported (${CEL_FILTER_NAME} is)`,
    );
    return undefined;
  }
  const { expression } = unpackAny<{ expression?: string }>(any);
  const ep = `${path}.extension_filter.typed_config.expression`;
  if (expression === undefined || expression === '') {
    problems.error(ep, 'must be non-empty');
    return undefined;
  }
  try {
    return compileAccessLogFilter(expression);
  } catch (err) {
    problems.error(
      ep,
      `invalid CEL expression: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`,
    );
    return undefined;
  }
}

/** `json_format` as field -> format string; non-string values are refused. */
export function jsonLogFormat(
  format: SubstitutionFormatString__Output,
  path: string,
  problems: Problems,
): Record<string, string> | undefined {
  const fields = format.json_format?.fields;
  if (fields === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    const s = (v as { stringValue?: unknown }).stringValue;
    if (typeof s !== 'string') {
      problems.error(`${path}.json_format.${k}`, 'only string values (format strings) are supported');
      continue;
    }
    out[k] = s;
  }
  return out;
}
