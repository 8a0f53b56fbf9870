/**
 * "did you mean": the candidates closest to a mistyped command or flag by edit distance
 * (Damerau-Levenshtein: a swapped pair of letters counts as one edit), as git and kubectl suggest.
 */

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let best = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The closest candidates to `input` (ties in the candidates' order): within a third of the
 * input's length in edits (at least 2), or candidates that start with it (`proxy-conf` ->
 * `proxy-config`); only those at the best distance, so `upp` suggests `up`, not also `top`.
 */
export function suggestions(input: string, candidates: readonly string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(input.length / 3));
  const near = candidates
    .map((c, i) => ({ c, i, d: c.startsWith(input) && input.length >= 3 ? 0.5 : editDistance(input, c) }))
    .filter((x) => x.d <= limit && x.c !== input)
    .sort((x, y) => x.d - y.d || x.i - y.i);
  const best = near[0]?.d;
  return near
    .filter((x) => x.d === best)
    .slice(0, max)
    .map((x) => x.c);
}

/** ` (did you mean --xds-address?)` or ` (did you mean a or b?)`, empty when nothing is close. */
export function didYouMean(input: string, candidates: readonly string[], prefix = ''): string {
  const found = suggestions(input, candidates);
  if (found.length === 0) return '';
  const named = found.map((f) => `${prefix}${f}`);
  const list = named.length === 1 ? named[0] : `${named.slice(0, -1).join(', ')} or ${named.at(-1) ?? ''}`;
  return ` (did you mean ${list}?)`;
}
