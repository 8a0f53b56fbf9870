import { test } from 'node:test';
import assert from 'node:assert/strict';
import { increasesOver, quantileFromBuckets, type Scrape } from './window.js';

const s = (name: string, value: number, labels: Record<string, string> = {}) => ({ name, labels, value });

test('increases over a window: deltas, resets, new series, and too few scrapes', () => {
  const rows: {
    what: string;
    scrapes: Scrape[];
    windowMs: number;
    now: number;
    want: Record<string, number> | undefined;
    seconds?: number;
  }[] = [
    {
      what: 'a counter that grew',
      scrapes: [
        { atMs: 0, samples: [s('a', 10)] },
        { atMs: 5000, samples: [s('a', 35)] },
      ],
      windowMs: 10_000,
      now: 5000,
      want: { a: 25 },
      seconds: 5,
    },
    {
      what: 'a counter reset (proxy restarted): the new value is the increase',
      scrapes: [
        { atMs: 0, samples: [s('a', 100)] },
        { atMs: 5000, samples: [s('a', 7)] },
      ],
      windowMs: 10_000,
      now: 5000,
      want: { a: 7 },
    },
    {
      what: 'a series that appeared inside the window counts whole',
      scrapes: [
        { atMs: 0, samples: [s('a', 1)] },
        { atMs: 2000, samples: [s('a', 1), s('b', 4)] },
      ],
      windowMs: 10_000,
      now: 2000,
      want: { b: 4 },
      seconds: 2,
    },
    {
      what: 'only scrapes inside the window: the oldest in it is the base',
      scrapes: [
        { atMs: 0, samples: [s('a', 0)] },
        { atMs: 10_000, samples: [s('a', 50)] },
        { atMs: 20_000, samples: [s('a', 60)] },
      ],
      windowMs: 10_000,
      now: 20_000,
      want: { a: 10 },
      seconds: 10,
    },
    {
      what: 'labels tell series apart',
      scrapes: [
        { atMs: 0, samples: [s('a', 1, { x: '1' }), s('a', 1, { x: '2' })] },
        { atMs: 1000, samples: [s('a', 3, { x: '1' }), s('a', 1, { x: '2' })] },
      ],
      windowMs: 10_000,
      now: 1000,
      want: { 'a{"x":"1"}': 2 },
    },
    {
      what: 'series keys are the label values, in any label order',
      scrapes: [
        { atMs: 0, samples: [s('a', 5, { x: '1', y: 'b' }), s('a', 9, { x: '2', y: 'b' })] },
        { atMs: 1000, samples: [s('a', 9, { y: 'b', x: '2' }), s('a', 6, { y: 'b', x: '1' })] },
      ],
      windowMs: 10_000,
      now: 1000,
      want: { 'a{"y":"b","x":"1"}': 1 },
    },
    {
      what: 'scrapes in any order; one taken after now does not count',
      scrapes: [
        { atMs: 3000, samples: [s('a', 30)] },
        { atMs: 1000, samples: [s('a', 10)] },
        { atMs: 2000, samples: [s('a', 20)] },
        { atMs: 9000, samples: [s('a', 1000)] },
      ],
      windowMs: 10_000,
      now: 3000,
      want: { a: 20 },
      seconds: 2,
    },
    {
      what: 'one scrape in the window (the other after now) tells no rate',
      scrapes: [
        { atMs: 1000, samples: [s('a', 10)] },
        { atMs: 9000, samples: [s('a', 1000)] },
      ],
      windowMs: 10_000,
      now: 1000,
      want: undefined,
    },
    {
      what: 'one scrape tells no rate',
      scrapes: [{ atMs: 0, samples: [s('a', 1)] }],
      windowMs: 10_000,
      now: 0,
      want: undefined,
    },
    {
      what: 'scrapes at the same instant tell no rate',
      scrapes: [
        { atMs: 5, samples: [s('a', 1)] },
        { atMs: 5, samples: [s('a', 2)] },
      ],
      windowMs: 10_000,
      now: 5,
      want: undefined,
    },
  ];
  for (const r of rows) {
    const got = increasesOver(r.scrapes, r.windowMs, r.now);
    if (r.want === undefined) {
      assert.equal(got, undefined, r.what);
      continue;
    }
    assert.ok(got, r.what);
    const flat = Object.fromEntries(
      got.increases.map((i) => [
        Object.keys(i.labels).length ? `${i.name}${JSON.stringify(i.labels)}` : i.name,
        i.delta,
      ]),
    );
    assert.deepEqual(flat, r.want, r.what);
    if (r.seconds !== undefined) assert.equal(got.seconds, r.seconds, r.what);
  }
});

test('quantiles from bucket increases interpolate inside the bucket, as histogram_quantile', () => {
  const b = (entries: [number, number][]) => new Map(entries);
  const rows: [number, Map<number, number>, number | undefined][] = [
    [
      0.5,
      b([
        [10, 50],
        [100, 100],
        [Infinity, 100],
      ]),
      10,
    ],
    [
      0.75,
      b([
        [10, 50],
        [100, 100],
        [Infinity, 100],
      ]),
      55,
    ],
    [
      0.99,
      b([
        [10, 50],
        [100, 100],
        [Infinity, 100],
      ]),
      98.2,
    ],
    [
      0.5,
      b([
        [5, 0],
        [10, 10],
        [Infinity, 10],
      ]),
      7.5,
    ],
    [
      0.99,
      b([
        [10, 1],
        [Infinity, 100],
      ]),
      10,
    ],
    [
      0.5,
      b([
        [10, 0],
        [Infinity, 0],
      ]),
      undefined,
    ],
    // Buckets in any order; an empty bucket before the rank is passed over.
    [
      0.75,
      b([
        [Infinity, 100],
        [100, 100],
        [10, 50],
      ]),
      55,
    ],
    [
      0.5,
      b([
        [10, 10],
        [20, 10],
        [Infinity, 10],
      ]),
      5,
    ],
    [0.5, b([]), undefined],
  ];
  for (const [q, buckets, want] of rows) {
    const got = quantileFromBuckets(q, buckets);
    if (want === undefined) assert.equal(got, undefined);
    else
      assert.ok(
        got !== undefined && Math.abs(got - want) < 1e-9,
        `q${q} of ${JSON.stringify([...buckets])}: ${got} != ${want}`,
      );
  }
});
