import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems } from '../../core/errors.js';
import { statsFilter } from '../testing/stats-filter.js';
import { convertHttpFilter } from './convert-http-filters.js';
import { metricLabels } from '../policy/stats-overrides.js';
import { LABEL_NAMES } from '../admin/istio-labels.js';

function convert(fields: Record<string, unknown>) {
  const problems = new Problems();
  const out = convertHttpFilter(statsFilter(fields), 'hcm.http_filters[0]', problems);
  return { out, errors: problems.items.map((p) => `${p.path}: ${p.message}`) };
}

const P = 'hcm.http_filters[0].typed_config.value';

test('the stats filter NACKs what it does not honour, naming the field', () => {
  const rows: [Record<string, unknown>, string][] = [
    [
      { definitions: [] },
      `${P}.definitions: unknown stats filter field (this proxy knows reporter, metrics): upgrade the proxy`,
    ],
    [
      { reporter: 'SIDEWAYS' },
      `${P}.reporter: must be one of UNSPECIFIED, CLIENT_SIDE, SERVER_SIDE, SERVER_GATEWAY, got "SIDEWAYS"`,
    ],
    [{ metrics: 'all' }, `${P}.metrics: must be a list`],
    [
      { metrics: [{ match: 'true' }] },
      `${P}.metrics[0].match: unknown metric override field (this proxy knows name, dimensions, tags_to_remove, drop)`,
    ],
    [
      { metrics: [{ name: 'requests' }] },
      `${P}.metrics[0].name: must be one of requests_total, request_duration_milliseconds, request_bytes, response_bytes, tcp_connections_opened_total, tcp_connections_closed_total, tcp_sent_bytes_total, tcp_received_bytes_total, request_messages_total, response_messages_total (or empty for all), got "requests"`,
    ],
    [{ metrics: [{ drop: 'yes' }] }, `${P}.metrics[0].drop: must be a boolean, got "yes"`],
    [{ metrics: [{ tags_to_remove: [1] }] }, `${P}.metrics[0].tags_to_remove: must be a list of label names`],
    [
      { metrics: [{ dimensions: { 'bad-name': 'request.host' } }] },
      `${P}.metrics[0].dimensions["bad-name"]: is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`,
    ],
    [
      { metrics: [{ dimensions: { x: '' } }] },
      `${P}.metrics[0].dimensions["x"]: must be a CEL expression, got ""`,
    ],
  ];
  for (const [fields, error] of rows) {
    const { out, errors } = convert(fields);
    assert.equal(out, undefined, JSON.stringify(fields));
    assert.deepEqual(errors, [error]);
  }
  const bad = convert({ metrics: [{ dimensions: { x: 'request.host +' } }] });
  assert.equal(bad.out, undefined);
  assert.match(
    bad.errors[0] ?? '',
    /metrics\[0\]\.dimensions\["x"\]: CEL expression "request\.host \+" does not parse/,
  );
  const costly = convert({ metrics: [{ dimensions: { x: 'string(request.headers.map(k, k))' } }] });
  assert.equal(costly.out, undefined);
  assert.match(
    costly.errors[0] ?? '',
    /metrics\[0\]\.dimensions\["x"\]: CEL expression "string\(request\.headers\.map\(k, k\)\)" is refused: the comprehension map\(\) is not allowed/,
  );
});

test('overrides compile per metric: drop, tags removed, dimensions added or replaced, in order', () => {
  const { out, errors } = convert({
    reporter: 'SERVER_GATEWAY',
    metrics: [
      { name: 'request_bytes', drop: true },
      { tags_to_remove: ['source_principal', 'destination_principal'] },
      {
        name: 'requests_total',
        dimensions: { tenant: "request.headers['x-tenant']", response_code: "'any'" },
      },
      { name: 'request_bytes', dimensions: { ignored: "'x'" } },
    ],
  });
  assert.deepEqual(errors, []);
  assert.ok(out?.kind === 'istio_stats');
  const s = out.stats;
  assert.equal(s.reporter, 'waypoint');
  assert.equal(s.metrics.has('request_bytes'), false);
  const values = LABEL_NAMES.map((n) => `v:${n}`);
  const requests = metricLabels(s.metrics.get('requests_total')!, values, {
    request: { headers: { 'x-tenant': 'acme' } },
  });
  const names = requests.map(([n]) => n);
  assert.equal(names.includes('source_principal'), false);
  assert.equal(names.includes('destination_principal'), false);
  assert.equal(names.at(-1), 'tenant');
  assert.deepEqual(Object.fromEntries(requests).tenant, 'acme');
  assert.deepEqual(Object.fromEntries(requests).response_code, 'any');
  assert.deepEqual(Object.fromEntries(requests).reporter, 'v:reporter');
  // A missing header fails the expression: `unknown`, as Istio reports it.
  const missing = metricLabels(s.metrics.get('requests_total')!, values, { request: { headers: {} } });
  assert.equal(Object.fromEntries(missing).tenant, 'unknown');
  // Other metrics keep every standard label but the removed ones.
  const duration = metricLabels(s.metrics.get('request_duration_milliseconds')!, values, {});
  assert.equal(duration.length, LABEL_NAMES.length - 2);
});
