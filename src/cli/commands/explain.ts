import { TrellisError } from '../../core/errors.js';
import type { Explanation } from '../../proxy/admin/explain-types.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { controlPlaneRequest, controlPlaneUrl } from '../http-client.js';
import { formatExplanation } from '../explain-text.js';

const USAGE = `Usage: trellis explain --from PROXY [-X METHOD] [-H 'NAME: VALUE']... URL [-o text|json]
       trellis explain --from PROXY --request-id ID [-o text|json]

What PROXY would do with a request its workload sends to URL, from the proxy's own config and
live state (nothing is sent upstream and nothing changes): the listener that takes it, the
virtual host and route that match and why each earlier route did not, the policies on the way
(fault injection, rate limits, RBAC, JWT), the route action (clusters and weights, redirect,
direct response, timeout, retries, mirrors), each cluster's endpoints with their health,
outlier ejections and circuit breakers; for a failure, the response flag it would produce in
words (NR, NC, UH, UO, RL, FI...) and the change that would fix it.

With --request-id, a request the proxy served and failed recently (it keeps its last 256
failures; the id is the x-request-id in its access log and in 'trellis tap -o json'): what it
actually got (status, flags, upstream host), explained with the config the proxy has now.

Only Trellis proxies explain: an Envoy or a proxyless gRPC client is refused (use
'trellis proxy-config routes PROXY').

  --from PROXY         the proxy the request leaves from: a workload name, NAME.NAMESPACE or
                       a prefix of its id ('trellis proxy-status' lists them)
  -X, --method M       the request method (default GET)
  -H, --header 'N: V'  a request header (repeatable); 'host: ...' overrides the URL's authority
  --request-id ID      explain a failed request the proxy served, by its x-request-id
  -o, --output FORMAT  text (default) or json (the proxy's answer as it is)

Exit status: 0 when the request would succeed (sent upstream, or answered by a redirect or a
direct response); 1 when it would fail or may fail (a fault percentage, a weighted cluster
that fails), or on an error; 2 on bad usage.

Examples:
  trellis explain --from productpage-v1 http://reviews:9080/reviews/1
  trellis explain --from productpage-v1 -H 'end-user: jason' http://reviews:9080/reviews/1
  trellis explain --from productpage-v1 --request-id 6f0c9d1e-...`;

export const command: Command = {
  name: 'explain',
  summary: 'Explain what a proxy would do with a request: route, policies, cluster, failure and fix.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('explain', argv, {
      from: { type: 'string' },
      method: { type: 'string', short: 'X', default: 'GET' },
      header: { type: 'string', short: 'H', multiple: true, default: [] },
      'request-id': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
      'control-plane': { type: 'string' },
    });
    const bad = (m: string) =>
      new TrellisError('TRELLIS_INVALID_ARGUMENT', `${m}; run 'trellis explain --help'`);
    if (!values.from) throw bad('--from PROXY is required: the proxy the request leaves from');
    const requestId = values['request-id'];
    const [url, extra] = positionals;
    if (extra !== undefined) throw bad(`one URL expected, got ${positionals.length}`);
    if ((url === undefined) === (requestId === undefined))
      throw bad('expected a URL or --request-id ID (one of them)');
    if (values.output !== 'text' && values.output !== 'json')
      throw bad(`-o ${String(values.output)}: expected text or json`);
    const q = new URLSearchParams({ from: values.from });
    if (requestId !== undefined) q.set('requestId', requestId);
    else {
      q.set('url', url ?? '');
      q.set('method', (values.method ?? 'GET').toUpperCase());
      for (const h of values.header ?? []) {
        if (!/^[^:\s]+\s*:/.test(h)) throw bad(`-H ${JSON.stringify(h)}: expected 'NAME: VALUE'`);
        q.append('header', h);
      }
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const r = await controlPlaneRequest(base, 'GET', `/v1/explain?${q.toString()}`);
    if (r.status !== 200) {
      const message =
        (r.json as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${r.status}`;
      throw new TrellisError(
        r.status === 400 ? 'TRELLIS_INVALID_ARGUMENT' : r.status === 404 ? 'TRELLIS_NOT_FOUND' : 'TRELLIS_IO',
        message,
      );
    }
    const e = r.json as Explanation;
    if (values.output === 'json') io.stdout(JSON.stringify(e, null, 2) + '\n');
    else io.stdout(formatExplanation(e, values.from));
    return e.outcome.result === 'succeed' ? 0 : 1;
  },
};
