import assert from 'node:assert/strict';
import test from 'node:test';
import { seededRandom, type Random } from '../../core/random.js';
import { decideSampling, type SamplingInput, type SamplingPercentages } from './trace-sampling.js';

/** A random source returning these values in turn (then fails: a draw the test did not expect). */
function draws(...values: number[]): Random {
  return () => {
    const v = values.shift();
    if (v === undefined) throw new Error('unexpected random draw');
    return v;
  };
}

const ALL: SamplingPercentages = { random: 100, client: 100, overall: 100 };
const NONE: SamplingInput = { incoming: undefined, clientTraceId: false, forceTrace: false };

test('decideSampling: the table of Envoy reasons', () => {
  const rows: [string, SamplingInput, SamplingPercentages, Random, string][] = [
    [
      'incoming sampled wins over 0%',
      { ...NONE, incoming: true },
      { ...ALL, random: 0, overall: 0 },
      draws(),
      'true parent',
    ],
    [
      'incoming unsampled wins over force',
      { incoming: false, clientTraceId: true, forceTrace: true },
      ALL,
      draws(),
      'false parent',
    ],
    ['first hop, 100%: no draw', NONE, ALL, draws(), 'true random'],
    ['first hop, 0%: no draw', NONE, { ...ALL, random: 0 }, draws(), 'false not-sampled'],
    ['first hop, 1%: draw 0.009 -> 0.9 hits', NONE, { ...ALL, random: 1 }, draws(0.009), 'true random'],
    ['first hop, 1%: draw 0.01 -> 1.0 misses', NONE, { ...ALL, random: 1 }, draws(0.01), 'false not-sampled'],
    ['force trace at 0%', { ...NONE, forceTrace: true }, { ...ALL, random: 0 }, draws(), 'true forced'],
    [
      'client trace id at 0% random',
      { ...NONE, clientTraceId: true },
      { ...ALL, random: 0 },
      draws(),
      'true client',
    ],
    [
      'client trace id, client 0% falls to random',
      { ...NONE, clientTraceId: true },
      { ...ALL, client: 0 },
      draws(),
      'true random',
    ],
    [
      'client trace id, client 0%, random 0%',
      { ...NONE, clientTraceId: true },
      { random: 0, client: 0, overall: 100 },
      draws(),
      'false not-sampled',
    ],
    [
      'client 50%: draw 0.7 misses, force still traces',
      { incoming: undefined, clientTraceId: true, forceTrace: true },
      { ...ALL, client: 50, random: 0 },
      draws(0.7),
      'true forced',
    ],
    [
      'client 50%: draw 0.3 hits',
      { ...NONE, clientTraceId: true },
      { ...ALL, client: 50, random: 0 },
      draws(0.3),
      'true client',
    ],
    [
      'overall 0% vetoes force',
      { ...NONE, forceTrace: true },
      { ...ALL, overall: 0 },
      draws(),
      'false overall-veto',
    ],
    [
      'overall 0% vetoes client',
      { ...NONE, clientTraceId: true },
      { ...ALL, overall: 0 },
      draws(),
      'false overall-veto',
    ],
    // One draw for random and overall: 30% random and 50% overall sample 30%, not 15%.
    [
      'random 30 / overall 50, draw 0.2',
      NONE,
      { ...ALL, random: 30, overall: 50 },
      draws(0.2),
      'true random',
    ],
    [
      'random 30 / overall 50, draw 0.4',
      NONE,
      { ...ALL, random: 30, overall: 50 },
      draws(0.4),
      'false not-sampled',
    ],
    [
      'random 50 / overall 30, draw 0.4',
      NONE,
      { ...ALL, random: 50, overall: 30 },
      draws(0.4),
      'false overall-veto',
    ],
    [
      'forced, overall 50: draw 0.6 vetoes',
      { ...NONE, forceTrace: true },
      { ...ALL, overall: 50 },
      draws(0.6),
      'false overall-veto',
    ],
    [
      'forced, overall 50: draw 0.3 keeps',
      { ...NONE, forceTrace: true },
      { ...ALL, overall: 50 },
      draws(0.3),
      'true forced',
    ],
  ];
  for (const [name, input, pct, random, want] of rows) {
    const d = decideSampling(input, pct, random);
    assert.equal(`${d.sampled} ${d.reason}`, want, name);
  }
});

test('decideSampling: a percentage holds over many first hops (seeded)', () => {
  const random = seededRandom(42);
  for (const pct of [1, 10, 25, 50]) {
    let sampled = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (decideSampling(NONE, { ...ALL, random: pct }, random).sampled) sampled++;
    const rate = (sampled / n) * 100;
    assert.ok(Math.abs(rate - pct) < Math.max(0.5, pct * 0.1), `${pct}%: got ${rate.toFixed(2)}%`);
  }
});
