/**
 * The I/O half of `trellis stat` / `trellis top`: which proxies to scrape (every connected proxy
 * that reported its admin address, or one --admin URL), two scrapes of /stats/prometheus a
 * window apart, and the rows from mesh-stats.ts. A proxy that cannot be scraped is reported and
 * left out; the others still count.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TrellisError, errorMessage } from '../core/errors.js';
import { connectedProxies } from './connected-proxies.js';
import { dialableAdmin } from './proxy-config-log.js';
import { shortName } from './proxy-names.js';
import {
  diffSamples,
  edgeStats,
  parsePrometheus,
  workloadStats,
  type Sample,
  type StatRow,
} from './mesh-stats.js';

export interface StatTarget {
  name: string;
  admin: string;
}

export async function statTargets(
  opts: { base: string; admin: string | undefined },
  warn: (line: string) => void,
): Promise<{ targets: StatTarget[]; meshed: string[] }> {
  if (opts.admin !== undefined)
    return { targets: [{ name: opts.admin, admin: dialableAdmin(opts.admin) }], meshed: [] };
  const proxies = await connectedProxies(opts.base);
  const targets: StatTarget[] = [];
  for (const p of proxies) {
    if (p.adminAddress) targets.push({ name: shortName(p), admin: dialableAdmin(p.adminAddress) });
    else warn(`${shortName(p)} (${p.proxy}) did not report its admin address; its metrics are left out`);
  }
  return { targets, meshed: proxies.map((p) => shortName(p)) };
}

async function scrape(t: StatTarget): Promise<Sample[]> {
  const url = `${t.admin}/stats/prometheus`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new TrellisError(
      'TRELLIS_IO',
      `${t.name}: cannot scrape ${url} (${errorMessage((err as { cause?: unknown }).cause ?? err)})`,
    );
  }
  if (!res.ok) throw new TrellisError('TRELLIS_IO', `${t.name}: ${url} answered HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

/** Every target's samples; a failed one is warned about and absent (undefined). */
export async function scrapeAll(
  targets: readonly StatTarget[],
  warn: (line: string) => void,
): Promise<(Sample[] | undefined)[]> {
  return Promise.all(
    targets.map((t) =>
      scrape(t).catch((err: unknown) => {
        warn(errorMessage(err));
        return undefined;
      }),
    ),
  );
}

/** Two scrapes `windowMs` apart; the rows per workload (or per edge). */
export async function sampleStats(
  targets: readonly StatTarget[],
  meshed: readonly string[],
  windowMs: number,
  edges: boolean,
  warn: (line: string) => void,
): Promise<StatRow[]> {
  const started = performance.now();
  const before = await scrapeAll(targets, warn);
  await sleep(windowMs);
  const after = await scrapeAll(targets, () => undefined);
  const seconds = (performance.now() - started) / 1000;
  const deltas: Sample[] = [];
  after.forEach((a, i) => {
    const b = before[i];
    if (a !== undefined && b !== undefined) deltas.push(...diffSamples(b, a));
  });
  return edges ? edgeStats(deltas, seconds) : workloadStats(deltas, seconds, meshed);
}
