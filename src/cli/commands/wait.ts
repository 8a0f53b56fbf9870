import { setTimeout as sleep } from 'node:timers/promises';
import { TrellisError } from '../../core/errors.js';
import { tryParseDuration } from '../../core/duration.js';
import type { Command, CommandIo } from '../command.js';
import { parseFlags } from '../args.js';
import { configRequest, expectOk, type ListResponse } from '../config-client.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';

const USAGE = `Usage: trellis wait KIND NAME [-n NAMESPACE] [--timeout 30s] [--for-revision N]
                    [--control-plane URL]

Waits until a resource, as the config store holds it now (or at store revision N), is in effect on
every proxy it affects: each connected proxy has ACKed, for clusters, endpoints, listeners and
routes, a push built from that revision or a later one. A deleted resource waits for its deletion; a Router also waits for its rollout to be Ready.
Exits 0 once it is in effect; at the timeout exits 1 naming the proxies that lag and why
(pending: not ACKed yet; nack: rejected, with the proxy's message; disconnected: left and did not
come back).

KIND is a kind, its plural or Istio's short name (vs, dr, gw, se, we).

  -n, --namespace NS      the namespace (default: default)
  --timeout DURATION      how long to wait (default 30s)
  --for-revision N        the config store revision to wait for (what the write returned);
                          default: the store's revision now
  --control-plane URL     the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                          http://127.0.0.1:15014)

Example:
  trellis apply -f reviews-v2.yaml && trellis wait vs reviews --timeout 1m`;

/** What /v1/convergence answers (controlplane/convergence.ts StoreConvergence). */
interface ConvergenceAnswer {
  storeRevision: number;
  revision: number;
  inEffect: boolean;
  proxies: number;
  lagging: { proxy: string; name: string; reason: string; detail: string }[];
  waitingFor?: string;
}

const POLL_MS = 100;

/**
 * Polls the control plane until the store at `storeRevision` is in effect everywhere or the
 * deadline passes; returns the last answer (inEffect false at a timeout).
 */
export async function waitForConvergence(
  base: string,
  storeRevision: number,
  timeoutMs: number,
): Promise<ConvergenceAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = (await apiGet(
      base,
      `/v1/convergence?storeRevision=${storeRevision}`,
    )) as ConvergenceAnswer;
    if (answer.inEffect || Date.now() >= deadline) return answer;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

interface RouterRollout {
  namespace: string;
  name: string;
  phase: string;
  observedGeneration: string;
  message: string;
}

/** Polls /v1/routers until the Router's rollout of `generation` is Ready or the time is up. */
async function waitForRollout(
  base: string,
  namespace: string,
  name: string,
  generation: string,
  timeoutMs: number,
): Promise<RouterRollout | undefined> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  for (;;) {
    const all = (await apiGet(base, '/v1/routers')) as RouterRollout[];
    const r = all.find((x) => x.namespace === namespace && x.name === name);
    const done = r !== undefined && r.observedGeneration === generation && r.phase === 'Ready';
    if (done || Date.now() >= deadline) return r;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/** The lines a timeout prints: who lags and why, then what to do. */
export function laggingReport(what: string, timeout: string, a: ConvergenceAnswer): string {
  const lines = [`Error: ${what} is not in effect after ${timeout}`];
  if (a.waitingFor) lines.push(`  ${a.waitingFor}`);
  if (a.lagging.length > 0) {
    lines.push(`  ${a.lagging.length} of ${a.proxies} proxies lag:`);
    for (const l of a.lagging) lines.push(`    ${l.name}: ${l.reason}: ${l.detail}`);
    lines.push("  Inspect one with 'trellis proxy-status NAME'; a NACK names the config the proxy refused.");
  }
  return lines.join('\n') + '\n';
}

export function parseTimeout(raw: string): number {
  const ms = tryParseDuration(raw);
  if (ms === undefined || ms <= 0)
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--timeout ${JSON.stringify(raw)}: expected a positive duration with a unit, e.g. 30s or 2m`,
    );
  return ms;
}

/** Prints the outcome of a wait; returns the exit code. */
export function reportWait(io: CommandIo, what: string, timeout: string, a: ConvergenceAnswer): number {
  if (a.inEffect) {
    io.stdout(
      `${what} in effect on ${a.proxies} ${a.proxies === 1 ? 'proxy' : 'proxies'} (store revision ${a.storeRevision})\n`,
    );
    return 0;
  }
  io.stderr(laggingReport(what, timeout, a));
  return 1;
}

export const command: Command = {
  name: 'wait',
  summary: 'Wait until a resource (or its deletion) is in effect on every proxy it affects.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('wait', argv, {
      namespace: { type: 'string', short: 'n', default: 'default' },
      timeout: { type: 'string', default: '30s' },
      'for-revision': { type: 'string' },
      'control-plane': { type: 'string' },
    });
    const [kind, name, ...rest] = positionals;
    if (kind === undefined || name === undefined || rest.length > 0)
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', "expected KIND NAME; run 'trellis wait --help'");
    const timeoutMs = parseTimeout(values.timeout);
    let forRevision: number | undefined;
    if (values['for-revision'] !== undefined) {
      if (!/^\d+$/.test(values['for-revision']))
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `--for-revision ${JSON.stringify(values['for-revision'])}: expected a store revision (a non-negative integer)`,
        );
      forRevision = Number(values['for-revision']);
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const ns = values.namespace;
    // The kind is checked by the server (an unknown one lists the known kinds).
    const list = expectOk<ListResponse>(
      await configRequest(
        base,
        'GET',
        `/v1/config/${encodeURIComponent(kind)}?namespace=${encodeURIComponent(ns)}`,
      ),
      `wait ${kind}`,
    );
    const exists = list.items.some((r) => r.metadata.name === name);
    const what = `${list.kind.toLowerCase()}/${name}${exists ? '' : ' (deleted)'} in namespace ${ns}`;
    const started = Date.now();
    const answer = await waitForConvergence(base, forRevision ?? list.revision, timeoutMs);
    const router = list.kind === 'Router' ? list.items.find((r) => r.metadata.name === name) : undefined;
    if (!answer.inEffect || router === undefined) return reportWait(io, what, values.timeout, answer);
    // A Router is in effect once its rollout has reached the proxies too.
    const generation = router.metadata.resourceVersion ?? '';
    const rollout = await waitForRollout(base, ns, name, generation, timeoutMs - (Date.now() - started));
    if (rollout?.phase === 'Ready') return reportWait(io, what, values.timeout, answer);
    io.stderr(
      `Error: ${what} is not in effect after ${values.timeout}: its rollout is ${rollout ? `${rollout.phase}: ${rollout.message}` : 'not started'}\n` +
        "  See 'trellis get routers' for the step and the proxies holding it.\n",
    );
    return 1;
  },
};
