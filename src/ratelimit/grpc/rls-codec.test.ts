import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../../core/errors.js';
import { seededRandom, type Random } from '../../core/random.js';
import { decodeMessage, encodeMessage } from '../../protocol/protos.js';
import type { RateLimitRequest, RateLimitResponse } from '../service.js';
import { decodeRateLimitRequest, encodeRateLimitResponse } from './rls-codec.js';

const REQUEST = 'envoy.service.ratelimit.v3.RateLimitRequest';
const RESPONSE = 'envoy.service.ratelimit.v3.RateLimitResponse';

function pick<T>(rand: Random, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function word(rand: Random): string {
  // Multi-byte characters and long values exercise UTF-8 and multi-byte lengths.
  const parts = ['user', 'héllo', '日本', 'x'.repeat(200), '10.0.0.1', ''];
  return pick(rand, parts) + String(Math.floor(rand() * 1000));
}

function randomRequest(rand: Random): RateLimitRequest {
  const descriptors = Array.from({ length: Math.floor(rand() * 4) + 1 }, () => {
    const d: NonNullable<RateLimitRequest['descriptors']>[number] = {
      entries: Array.from({ length: Math.floor(rand() * 3) + 1 }, () => ({
        key: word(rand),
        value: word(rand),
      })),
    };
    if (rand() < 0.3)
      d.limit = {
        requests_per_unit: Math.floor(rand() * 5000) + 1,
        unit: pick(rand, ['SECOND', 'HOUR', 'DAY']),
      };
    return d;
  });
  const request: RateLimitRequest = { domain: word(rand) || 'edge', descriptors };
  if (rand() < 0.5) request.hits_addend = Math.floor(rand() * 100) + 1;
  return request;
}

function randomResponse(rand: Random): RateLimitResponse {
  const statuses = Array.from({ length: Math.floor(rand() * 5) }, () => {
    const code = pick(rand, ['OK', 'OVER_LIMIT'] as const);
    if (rand() < 0.2) return { code };
    return {
      code,
      current_limit: {
        requests_per_unit: Math.floor(rand() * 1e9),
        unit: pick(rand, ['SECOND', 'MINUTE', 'HOUR', 'DAY'] as const),
        ...(rand() < 0.3 ? { name: word(rand) } : {}),
      },
      limit_remaining: rand() < 0.1 ? 0xffffffff : Math.floor(rand() * 1000),
      duration_until_reset: { seconds: Math.floor(rand() * 86_400), nanos: Math.floor(rand() * 999_999_999) },
    };
  });
  const response: RateLimitResponse = { overall_code: pick(rand, ['OK', 'OVER_LIMIT'] as const), statuses };
  if (rand() < 0.5) {
    response.response_headers_to_add = [
      { key: 'x-ratelimit-limit', value: String(Math.floor(rand() * 100)) },
      { key: 'x-ratelimit-reset', value: word(rand) },
    ];
  }
  return response;
}

/** protobufjs omits proto3 defaults; so does the comparison. */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === '' || v === 0 || v === '0' || v === undefined || (Array.isArray(v) && v.length === 0))
        continue;
      out[k] = withoutDefaults(v);
    }
    return out;
  }
  return value;
}

test('rls codec: decodes what protobufjs encodes, for 300 random requests', () => {
  const rand = seededRandom(7);
  for (let i = 0; i < 300; i++) {
    const request = randomRequest(rand);
    const bytes = Buffer.from(encodeMessage(REQUEST, request));
    assert.deepEqual(
      withoutDefaults(decodeRateLimitRequest(bytes)),
      withoutDefaults(decodeMessage(REQUEST, bytes)),
    );
  }
});

test('rls codec: protobufjs decodes what it encodes, for 300 random responses', () => {
  const rand = seededRandom(11);
  for (let i = 0; i < 300; i++) {
    const response = randomResponse(rand);
    const framed = encodeRateLimitResponse(response, true);
    assert.equal(framed[0], 0, 'uncompressed');
    assert.equal(framed.readUInt32BE(1), framed.length - 5);
    const bytes = encodeRateLimitResponse(response);
    assert.deepEqual(bytes, framed.subarray(5));
    assert.deepEqual(withoutDefaults(decodeMessage(RESPONSE, bytes)), withoutDefaults(response));
  }
});

test('rls codec: skips unknown fields and reads a request split across a larger buffer', () => {
  const inner = Buffer.from(
    encodeMessage(REQUEST, {
      domain: 'edge',
      descriptors: [{ entries: [{ key: 'k', value: 'v' }] }],
      hits_addend: 3,
    }),
  );
  // Field 15 (varint), field 14 (fixed64), field 13 (bytes), field 12 (fixed32): all unknown.
  const unknown = Buffer.from([
    0x78, 0x96, 0x01, 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 0x6a, 2, 0xff, 0xff, 0x65, 1, 2, 3, 4,
  ]);
  const padded = Buffer.concat([Buffer.from([9, 9]), unknown, inner, Buffer.from([9])]);
  assert.deepEqual(decodeRateLimitRequest(padded, 2, padded.length - 1), {
    domain: 'edge',
    descriptors: [{ entries: [{ key: 'k', value: 'v' }] }],
    hits_addend: 3,
  });
});

test('rls codec: malformed bytes are TRELLIS_INVALID_ARGUMENT, never a crash or a partial read', () => {
  const good = Buffer.from(
    encodeMessage(REQUEST, { domain: 'edge', descriptors: [{ entries: [{ key: 'k', value: 'v' }] }] }),
  );
  const cases = [
    good.subarray(0, good.length - 1), // truncated
    Buffer.from([0x0a, 0x50, 0x41]), // string length past the end
    Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11-byte varint
    Buffer.from([0x0b]), // group wire type
    Buffer.from([0x12, 0x03, 0x0a, 0x05, 0x0a]), // nested entry longer than its descriptor
  ];
  for (const bytes of cases) {
    assert.throws(
      () => decodeRateLimitRequest(bytes),
      (e: unknown) => isTrellisError(e, 'TRELLIS_INVALID_ARGUMENT'),
      bytes.toString('hex'),
    );
  }
});
