import { TrellisError } from '../../core/errors.js';
import { tryParseDuration } from '../../core/duration.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { controlPlaneUrl } from '../http-client.js';
import { EDGE_HEADER, STAT_HEADER, renderStats } from '../mesh-stats.js';
import { sampleStats, statTargets } from '../stat-sampler.js';
import { formatTable } from '../table.js';

const USAGE = `Usage: trellis stat [WORKLOAD] [--edges] [--window 10s] [-o table|json] [--control-plane URL | --admin URL]

Per workload, as 'linkerd viz stat': success rate, requests per second and p50/p95/p99 latency
over a window, from every connected proxy's Istio metrics (istio_requests_total and the
istio_request_duration_milliseconds buckets on its admin /stats/prometheus), scraped at the
start and the end of the window. A workload's numbers are what its own proxy served (inbound);
without inbound metrics, what its clients saw. SUCCESS counts every response but 5xx.

  WORKLOAD              only this workload (name or name.namespace)
  --edges               per edge: source workload -> destination, as the sources saw it
  --window DURATION     how long to measure (default 10s; e.g. 2s, 500ms, 1m)
  -o, --output FORMAT   table (default) or json
  --control-plane URL   lists the proxies and their admin addresses (default
                        $TRELLIS_CONTROL_PLANE or http://127.0.0.1:15014)
  --admin URL           one proxy's admin endpoint instead

Example:
  trellis stat --window 5s
  trellis stat --edges`;

export function parseWindow(value: string | undefined): number {
  if (value === undefined) return 10_000;
  const ms = tryParseDuration(value);
  if (ms === undefined || ms <= 0 || ms > 3_600_000) {
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--window ${JSON.stringify(value)}: expected a duration between 1ms and 1h, e.g. 10s or 500ms`,
    );
  }
  return ms;
}

export const command: Command = {
  name: 'stat',
  summary: 'Success rate, requests per second and latency per workload or edge, from the proxies.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('stat', argv, {
      edges: { type: 'boolean', default: false },
      window: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      'control-plane': { type: 'string' },
      admin: { type: 'string' },
    });
    const [workload, extra] = positionals;
    if (extra !== undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "expected at most one WORKLOAD; run 'trellis stat --help'",
      );
    }
    if (values.output !== 'table' && values.output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected table or json`,
      );
    }
    const windowMs = parseWindow(values.window);
    const warn = (line: string) => io.stderr(`trellis stat: ${line}\n`);
    const { targets, meshed } = await statTargets(
      { base: controlPlaneUrl(values['control-plane'], io.env), admin: values.admin },
      warn,
    );
    if (targets.length === 0) {
      throw new TrellisError(
        'TRELLIS_NOT_FOUND',
        "no proxy to read metrics from: none is connected with an admin address ('trellis proxy-status'); pass --admin URL for one",
      );
    }
    let rows = await sampleStats(targets, meshed, windowMs, values.edges, warn);
    if (workload !== undefined) {
      const matches = (n: string) => n === workload || n.startsWith(`${workload}.`);
      rows = rows.filter((r) =>
        values.edges ? matches(r.source ?? '') || matches(r.destination ?? '') : matches(r.name),
      );
      if (rows.length === 0) {
        throw new TrellisError(
          'TRELLIS_NOT_FOUND',
          `no workload ${JSON.stringify(workload)} in the proxies' metrics or connected proxies; see 'trellis stat' for the list`,
        );
      }
    }
    if (values.output === 'json') io.stdout(JSON.stringify({ windowMs, rows }, null, 2) + '\n');
    else if (rows.length === 0) io.stdout('No traffic in the window.\n');
    else io.stdout(formatTable(values.edges ? EDGE_HEADER : STAT_HEADER, renderStats(rows, values.edges)));
    return 0;
  },
};
