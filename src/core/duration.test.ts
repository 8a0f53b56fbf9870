import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatDuration,
  msToProtoDuration,
  parseDuration,
  protoDurationToMs,
  tryParseDuration,
} from './duration.js';
import { isTrellisError } from './errors.js';

test('parses Istio durations to milliseconds', () => {
  const table: [string, number | undefined][] = [
    ['1s', 1000],
    ['1.5s', 1500],
    ['100ms', 100],
    ['2m30s', 150_000],
    ['1h', 3_600_000],
    ['500us', 0.5],
    ['.5s', 500],
    ['', undefined],
    ['10', undefined],
    ['1x', undefined],
    ['s', undefined],
    ['1s ', undefined],
  ];
  for (const [text, want] of table) assert.equal(tryParseDuration(text), want, text);
});

test('parseDuration names the path and the expected form', () => {
  assert.throws(
    () => parseDuration('ten', 'spec.http[0].timeout'),
    (err) =>
      isTrellisError(err, 'TRELLIS_INVALID_CONFIG') &&
      err.path === 'spec.http[0].timeout' &&
      /e\.g\. "1\.5s"/.test(err.message),
  );
});

test('converts to and from protobuf Duration', () => {
  assert.deepEqual(msToProtoDuration(1500), { seconds: 1, nanos: 500_000_000 });
  assert.equal(protoDurationToMs({ seconds: '2', nanos: 1_000_000 }), 2001);
  assert.equal(protoDurationToMs(undefined), undefined);
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(20), '20ms');
});
