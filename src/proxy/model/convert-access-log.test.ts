import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, Problems } from '../../core/errors.js';
import { packAny, TYPE, unpackAny } from '../../protocol/protos.js';
import type { AccessLog__Output } from '../../protocol/envoy-types.js';
import { convertAccessLogFilter } from './convert-access-log.js';
import { AccessLogWriter } from '../connection-manager/access-log.js';
import type { StreamInfo } from '../connection-manager/stream-info.js';
import type { AccessLogConfig } from './config.js';

/** An AccessLog entry as the proxy receives it (encoded by the control plane, decoded here). */
function decoded(entry: object): AccessLog__Output {
  const hcm = unpackAny<{ access_log: AccessLog__Output[] }>(
    packAny(TYPE.hcm, { stat_prefix: 's', access_log: [entry] }),
  );
  return hcm.access_log[0]!;
}

const FILE = packAny(TYPE.fileAccessLog, { path: '/dev/stdout' });

function filterErrors(filter: object): string[] {
  const problems = new Problems();
  const entry = decoded({ name: 'envoy.access_loggers.file', typed_config: FILE, filter });
  convertAccessLogFilter(entry.filter!, 'access_log[0].filter', problems);
  return problems.errors.map(formatProblem);
}

test('access log filters: CEL is accepted; other filters and bad CEL are NACKed with a path', () => {
  const cel = (expression: string) => ({
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: packAny(TYPE.celAccessLogFilter, { expression }),
    },
  });
  assert.deepEqual(filterErrors(cel('response.code >= 400')), []);
  assert.deepEqual(filterErrors(cel('response.code >=')), [
    'access_log[0].filter.extension_filter.typed_config.expression: invalid CEL expression: Unexpected token: EOF',
  ]);
  assert.deepEqual(filterErrors(cel('[1, 2].all(a, [1, 2].all(b, true))')), [
    'access_log[0].filter.extension_filter.typed_config.expression: invalid CEL expression: the comprehension all() is not allowed: it runs once per element on every request and nests to any cost (Envoy disables comprehensions too); test a value with ==, in, has(), startsWith() or matches() instead',
  ]);
  assert.deepEqual(filterErrors(cel('')), [
    'access_log[0].filter.extension_filter.typed_config.expression: must be non-empty',
  ]);
  assert.deepEqual(
    filterErrors({
      status_code_filter: { comparison: { op: 'GE', value: { default_value: 400, runtime_key: 'k' } } },
    }),
    [
      'access_log[0].filter: access log filter "status_code_filter" is not supported (the CEL extension filter is)',
    ],
  );
});

function stream(status: number): StreamInfo {
  return {
    startWallMs: Date.UTC(2026, 0, 1),
    startMs: 0,
    reporter: 'source',
    method: 'GET',
    path: '/x',
    authority: 'reviews',
    protocol: 'HTTP/1.1',
    requestId: 'id-1',
    requestHeaders: {},
    userAgent: '',
    forwardedFor: '',
    downstreamRemote: '127.0.0.1:1',
    status,
    flags: new Set(),
    bytesReceived: 0,
    bytesSent: 5,
    durationMs: 3,
    attempts: 1,
  };
}

test("the writer applies the filter and prints JSON formats with Envoy's types", () => {
  const out: string[] = [];
  const writer = new AccessLogWriter({ write: (l) => void out.push(l) });
  const problems = new Problems();
  const filter = convertAccessLogFilter(
    decoded({
      name: 'envoy.access_loggers.file',
      typed_config: FILE,
      filter: {
        extension_filter: {
          name: 'envoy.access_loggers.extension_filters.cel',
          typed_config: packAny(TYPE.celAccessLogFilter, { expression: 'response.code >= 400' }),
        },
      },
    }).filter!,
    'f',
    problems,
  );
  const config: AccessLogConfig = {
    json: {
      code: '%RESPONSE_CODE%',
      method: '%REQ(:METHOD)%',
      host: '%UPSTREAM_HOST%',
      line: '%REQ(:METHOD)% %REQ(:PATH)%',
    },
    ...(filter ? { filter } : {}),
  };
  writer.log([config], stream(200));
  writer.log([config], stream(503));
  assert.equal(out.length, 1);
  assert.deepEqual(JSON.parse(out[0]!), { code: 503, method: 'GET', host: null, line: 'GET /x' });
});
