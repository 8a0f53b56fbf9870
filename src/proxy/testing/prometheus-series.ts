/** Prometheus text lines as series (imported by tests only): find one by name and some labels. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseSeries(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The series of `name` whose labels include every one of `match`. */
export function findSeries(
  all: readonly Series[],
  name: string,
  match: Record<string, string> = {},
): Series[] {
  return all.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

export async function scrape(adminPort: number): Promise<Series[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats/prometheus`);
  return parseSeries(await res.text());
}
