import { TrellisError } from '../../core/errors.js';
import { processIo, type Command } from '../command.js';
import { parseFlags } from '../args.js';
import { controlPlaneUrl } from '../http-client.js';
import { EDGE_HEADER, STAT_HEADER, renderStats, type StatRow } from '../mesh-stats.js';
import { sampleStats, statTargets } from '../stat-sampler.js';
import { formatTable } from '../table.js';
import { parseWindow } from './stat.js';

const USAGE = `Usage: trellis top [--edges] [--window 2s] [--once] [--control-plane URL | --admin URL]

The busiest workloads (or edges with --edges) by requests per second, with success rate and
p50/p95/p99 latency, refreshed every window on a terminal ('trellis stat' measures the same way).
With --once, or when the output is not a terminal (a pipe, a file), it prints one table and exits.
Ctrl-C stops it.

  --window DURATION     each measurement's length, and the refresh period (default 2s)`;

function table(rows: readonly StatRow[], edges: boolean): string {
  const sorted = [...rows].sort((a, b) => b.rps - a.rps || a.name.localeCompare(b.name));
  return formatTable(edges ? EDGE_HEADER : STAT_HEADER, renderStats(sorted, edges));
}

export const command: Command = {
  name: 'top',
  summary: 'The busiest workloads or edges, refreshed live: rps, success rate, latency.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('top', argv, {
      edges: { type: 'boolean', default: false },
      window: { type: 'string' },
      once: { type: 'boolean', default: false },
      'control-plane': { type: 'string' },
      admin: { type: 'string' },
    });
    if (positionals.length) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `unexpected argument ${JSON.stringify(positionals[0])}; run 'trellis top --help'`,
      );
    }
    const windowMs = parseWindow(values.window ?? '2s');
    const live = !values.once && io === processIo && process.stdout.isTTY === true;
    const warnings = new Set<string>();
    const warn = (line: string) => {
      // Refreshing: say each problem once, not every window.
      if (!warnings.has(line)) io.stderr(`trellis top: ${line}\n`);
      warnings.add(line);
    };
    const base = controlPlaneUrl(values['control-plane'], io.env);
    let stopped = false;
    const stop = () => {
      stopped = true;
    };
    if (live) process.once('SIGINT', stop);
    try {
      do {
        const { targets, meshed } = await statTargets({ base, admin: values.admin }, warn);
        if (targets.length === 0) {
          throw new TrellisError(
            'TRELLIS_NOT_FOUND',
            "no proxy to read metrics from: none is connected with an admin address ('trellis proxy-status'); pass --admin URL for one",
          );
        }
        const rows = await sampleStats(targets, meshed, windowMs, values.edges, warn);
        const text = rows.length ? table(rows, values.edges) : 'No traffic in the window.\n';
        // On a terminal: home the cursor and clear, so the table redraws in place.
        io.stdout(
          live
            ? `\x1b[H\x1b[2J${new Date().toISOString()}  window ${windowMs} ms  (Ctrl-C to stop)\n\n${text}`
            : text,
        );
      } while (live && !stopped);
    } finally {
      process.removeListener('SIGINT', stop);
    }
    return 0;
  },
};
