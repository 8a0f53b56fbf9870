import { TrellisError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';
import { graphTable } from '../graph-table.js';
import type { ServiceGraph } from '../../controlplane/graph/types.js';

const TYPES = ['workload', 'app', 'versionedApp', 'service'];

const USAGE = `Usage: trellis graph [--type T] [-n NS] [--window SECONDS] [-o table|json] [--control-plane URL]

Prints the mesh's service graph (the control plane's GET /v1/graph, Kiali's graph types), built
from every proxy's Istio metrics over the last --window seconds: one row per edge with its
request rate (bytes for TCP), error ratio (5xx or a response flag), p50/p99 latency and mTLS.

  --type T              workload, app, versionedApp (default) or service
  -n, --namespace NS    only edges touching namespace NS
  --window SECONDS      the window rates are computed over (default 60, at most 600)
  -o, --output FORMAT   table (default) or json (the ServiceGraph JSON)
  --control-plane URL   the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                        http://127.0.0.1:15014)

The control plane scrapes its proxies every 5 s (or reads Prometheus when started with
--prometheus-url), so new traffic shows after a scrape or two.`;

export const command: Command = {
  name: 'graph',
  summary: "Print the service graph: edges with request rate, errors, latency and mTLS (Kiali's graph).",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('graph', argv, {
      type: { type: 'string', default: 'versionedApp' },
      namespace: { type: 'string', short: 'n' },
      window: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      'control-plane': { type: 'string' },
    });
    if (positionals.length)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `unexpected argument ${JSON.stringify(positionals[0])}; run 'trellis graph --help'`,
      );
    if (!TYPES.includes(values.type))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--type ${values.type}: expected one of ${TYPES.join(', ')}`,
      );
    if (values.output !== 'table' && values.output !== 'json')
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `-o ${values.output}: expected table or json`);
    const query = new URLSearchParams({ type: values.type });
    if (values.namespace) query.set('namespace', values.namespace);
    if (values.window !== undefined) query.set('window', values.window);
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const graph = (await apiGet(base, `/v1/graph?${query.toString()}`)) as ServiceGraph;
    io.stdout(values.output === 'json' ? JSON.stringify(graph, null, 2) + '\n' : graphTable(graph));
    return 0;
  },
};
