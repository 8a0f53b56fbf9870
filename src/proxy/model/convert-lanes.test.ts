import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems } from '../../core/errors.js';
import { packAny, TYPE } from '../../protocol/protos.js';
import { LANE_FILTER_TYPE_URL } from '../../protocol/trellis/lanes-filter.js';
import { convertHttpFilter } from './convert-http-filters.js';

function filter(fields: Record<string, unknown>, typeUrl = LANE_FILTER_TYPE_URL) {
  const value = (v: unknown): object =>
    typeof v === 'string'
      ? { stringValue: v }
      : typeof v === 'boolean'
        ? { boolValue: v }
        : { numberValue: v };
  const struct = { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, value(v)])) };
  return {
    name: 'trellis.filters.http.lanes',
    typed_config: packAny(TYPE.typedStruct, { type_url: typeUrl, value: struct }),
  };
}

function convert(f: ReturnType<typeof filter>) {
  const problems = new Problems();
  const out = convertHttpFilter(f, 'hcm.http_filters[0]', problems);
  return { out, errors: problems.items.map((p) => `${p.path}: ${p.message}`) };
}

test('the lane filter converts each direction', () => {
  assert.deepEqual(convert(filter({ direction: 'INBOUND' })).out, {
    kind: 'lanes',
    name: 'trellis.filters.http.lanes',
    lanes: { direction: 'INBOUND', acceptExternal: false },
  });
  const out = convert(filter({ direction: 'OUTBOUND', own_lane: 'box-x' })).out;
  assert.deepEqual(out?.kind === 'lanes' && out.lanes, {
    direction: 'OUTBOUND',
    ownLane: 'box-x',
    acceptExternal: false,
  });
  const gw = convert(filter({ direction: 'GATEWAY', accept_external: true })).out;
  assert.deepEqual(gw?.kind === 'lanes' && gw.lanes, { direction: 'GATEWAY', acceptExternal: true });
});

test('fields the proxy does not honour, or bad values, are NACKed with their path', () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { direction: 'INBOUND', ttl: 5 },
      'hcm.http_filters[0].typed_config.value.ttl: unknown lane filter field',
    ],
    [{ direction: 'SIDEWAYS' }, 'hcm.http_filters[0].typed_config.value.direction: must be one of'],
    [{}, '.direction: must be one of'],
    [{ direction: 'OUTBOUND', own_lane: 'master' }, '.own_lane: must be a branch label value'],
    [{ direction: 'OUTBOUND', own_lane: 'a b' }, '.own_lane: must be a branch label value'],
    [{ direction: 'INBOUND', own_lane: 'box-x' }, '.own_lane: is only for direction OUTBOUND'],
    [{ direction: 'GATEWAY', accept_external: 'yes' }, '.accept_external: must be a boolean'],
    [{ direction: 'INBOUND', accept_external: true }, '.accept_external: is only for direction GATEWAY'],
  ];
  for (const [fields, want] of cases) {
    const { out, errors } = convert(filter(fields));
    assert.equal(out, undefined, JSON.stringify(fields));
    assert.ok(
      errors.some((e) => e.includes(want)),
      `${JSON.stringify(fields)}: ${errors.join('; ')}`,
    );
  }
});

test('a TypedStruct of any other type is an unsupported filter, named', () => {
  const { out, errors } = convert(filter({ direction: 'INBOUND' }, 'type.googleapis.com/acme.Filter'));
  assert.equal(out, undefined);
  assert.match(errors.join(';'), /TypedStruct of type\.googleapis\.com\/acme\.Filter\) is not supported/);
});
