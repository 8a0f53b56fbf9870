import { TrellisError, errorMessage } from '../../core/errors.js';
import type { Command } from '../command.js';
import { parseFlags, parseIntFlag } from '../args.js';
import { findProxy } from '../connected-proxies.js';
import { controlPlaneUrl } from '../http-client.js';
import { adminBaseUrl, dialableAdmin } from '../proxy-config-log.js';
import { shortName } from '../proxy-names.js';

const USAGE = `Usage: trellis tap PROXY [--path PREFIX] [--method M] [--authority A] [--max N] [-o text|json]
       trellis tap --admin URL [filters]

Live requests through one proxy, as 'linkerd viz tap': one line per finished request with its
method, authority, path, status, response flags, duration and upstream (cluster and host),
streamed from the proxy's admin /tap. A failed request shows its id (id=...): 'trellis explain
--from PROXY --request-id ID' explains it. Stops after --max requests, or on Ctrl-C.

A client that reads too slowly never slows the proxy: requests are dropped for it and a line
says how many. The proxy pays for tapping only while a tap is connected.

  --path PREFIX        requests whose path starts with PREFIX
  --method M           requests with this method
  --authority A        requests with this Host / :authority
  --max N              stop after N requests
  -o, --output FORMAT  text (default) or json (one JSON object a line, as the proxy sends)

Example:
  trellis tap productpage-v1 --path /api --max 20`;

interface TapLine {
  time?: string;
  method?: string;
  authority?: string;
  path?: string;
  status?: number;
  flags?: string;
  durationMs?: number;
  upstreamCluster?: string;
  upstreamHost?: string;
  requestId?: string;
  dropped?: number;
}

export function formatTapLine(e: TapLine): string {
  if (e.dropped !== undefined) return `(dropped ${e.dropped} requests: the output was too slow)`;
  const upstream = e.upstreamCluster
    ? ` -> ${e.upstreamCluster}${e.upstreamHost ? ` ${e.upstreamHost}` : ''}`
    : '';
  // A failed request shows its id: `trellis explain --from PROXY --request-id ID` explains it.
  const failed = (e.flags !== undefined && e.flags !== '' && e.flags !== '-') || (e.status ?? 0) >= 500;
  const id = failed && e.requestId ? ` id=${e.requestId}` : '';
  return `${e.time ?? ''} ${e.method ?? ''} ${e.authority ?? ''}${e.path ?? ''} ${e.status ?? 0} ${e.flags || '-'} ${e.durationMs ?? 0}ms${upstream}${id}`;
}

export const command: Command = {
  name: 'tap',
  summary: 'Watch live requests through a proxy (method, path, status, flags, duration, upstream).',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('tap', argv, {
      path: { type: 'string' },
      method: { type: 'string' },
      authority: { type: 'string' },
      max: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
      admin: { type: 'string' },
      'control-plane': { type: 'string' },
    });
    const [proxy, extra] = positionals;
    if (extra !== undefined || (proxy === undefined) === (values.admin === undefined)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "expected PROXY or --admin URL (one of them); run 'trellis tap --help'",
      );
    }
    if (values.output !== 'text' && values.output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected text or json`,
      );
    }
    const max = values.max === undefined ? undefined : parseIntFlag('max', values.max, 0);
    if (max === 0) throw new TrellisError('TRELLIS_INVALID_ARGUMENT', '--max 0: expected at least 1');
    let base: string;
    if (values.admin !== undefined) base = adminBaseUrl(values.admin);
    else {
      const p = await findProxy(controlPlaneUrl(values['control-plane'], io.env), proxy ?? '');
      if (!p.adminAddress) {
        throw new TrellisError(
          'TRELLIS_NOT_FOUND',
          `proxy ${shortName(p)} (${p.proxy}) did not report its admin address (an Envoy or an older Trellis proxy); pass --admin URL`,
        );
      }
      base = dialableAdmin(p.adminAddress);
    }
    const query = new URLSearchParams();
    if (values.path !== undefined) query.set('path', values.path);
    if (values.method !== undefined) query.set('method', values.method);
    if (values.authority !== undefined) query.set('authority', values.authority);
    if (max !== undefined) query.set('max', String(max));
    const url = `${base}/tap${query.size ? `?${query.toString()}` : ''}`;

    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    try {
      let res: Response;
      try {
        res = await fetch(url, { signal: abort.signal });
      } catch (err) {
        if (abort.signal.aborted) return 0;
        throw new TrellisError(
          'TRELLIS_IO',
          `cannot reach the proxy's admin endpoint at ${url} (${errorMessage((err as { cause?: unknown }).cause ?? err)}); is the proxy running? Pass --admin URL to name it directly`,
        );
      }
      if (!res.ok || !res.body) {
        throw new TrellisError('TRELLIS_IO', `GET ${url}: HTTP ${res.status}: ${(await res.text()).trim()}`);
      }
      const decoder = new TextDecoder();
      let pending = '';
      try {
        for await (const chunk of res.body) {
          pending += decoder.decode(chunk as Uint8Array, { stream: true });
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (line === '') continue;
            io.stdout(
              values.output === 'json' ? `${line}\n` : `${formatTapLine(JSON.parse(line) as TapLine)}\n`,
            );
          }
        }
      } catch (err) {
        if (!abort.signal.aborted)
          throw new TrellisError('TRELLIS_IO', `the tap stream from ${base} broke: ${errorMessage(err)}`);
      }
      return 0;
    } finally {
      process.removeListener('SIGINT', stop);
    }
  },
};
