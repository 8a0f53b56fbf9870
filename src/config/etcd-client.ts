/**
 * The etcd client every etcd-backed part of a control plane shares (config, Router layer,
 * registrations, election), with fault handling suited to a control plane:
 *
 * - no per-host circuit breaker (etcd3's default keeps refusing calls for 5 s after three
 *   failures, which would refuse writes after etcd is back);
 * - a call that fails on one endpoint is tried on the others (one attempt per endpoint);
 * - a lost watch stream is re-established every 500 ms (the default backs off to 30 s, so
 *   replicas would catch up long after etcd returns);
 * - every unary call has a 5 s deadline.
 *
 * `withDeadline` bounds a call: past it, or on a connection error, the caller gets
 * TRELLIS_STORE_UNAVAILABLE saying which etcd is unreachable and what keeps working.
 */
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { TrellisError, errorMessage } from '../core/errors.js';

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
type Backoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

const noEvent = () => ({ dispose: () => undefined });

function policy(attempts: number): Policy {
  const p = {
    onSuccess: noEvent,
    onFailure: noEvent,
    async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal) {
      const context = { signal: signal ?? new AbortController().signal };
      for (let i = 1; ; i++) {
        try {
          return await fn(context);
        } catch (err) {
          if (i >= attempts || !isRecoverableError(err as Error)) throw err;
        }
      }
    },
  };
  return p as unknown as Policy;
}

const watchBackoff: Backoff = { duration: 500, next: () => watchBackoff };

export function createEtcdClient(endpoints: readonly string[]): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: 2000,
    // No unary call waits forever (streams, the watch and lease keep-alives, are long-lived).
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
    faultHandling: {
      host: () => policy(1),
      global: policy(endpoints.length),
      watchBackoff,
    },
  });
}

/** `127.0.0.1:2379, 127.0.0.1:22379` for messages. */
export function describeEndpoints(endpoints: readonly string[]): string {
  return endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(', ');
}

/** TRELLIS_STORE_UNAVAILABLE with what is refused and what keeps working. */
export function storeUnavailable(
  endpoints: readonly string[],
  revision: number,
  cause?: unknown,
): TrellisError {
  return new TrellisError(
    'TRELLIS_STORE_UNAVAILABLE',
    `etcd at ${describeEndpoints(endpoints)} is unreachable${cause === undefined ? '' : ` (${errorMessage(cause)})`}: ` +
      `writes are refused until it returns; the last state (revision ${revision}) keeps serving. ` +
      'Check that etcd is running and reachable, then retry.',
    cause === undefined ? {} : { cause },
  );
}

/**
 * Runs `call` for at most `ms`; a timeout or connection error becomes TRELLIS_STORE_UNAVAILABLE
 * (other errors pass through). The call itself is not cancelled, only no longer awaited.
 */
export async function withDeadline<T>(
  call: () => Promise<T>,
  ms: number,
  unavailable: (cause?: unknown) => TrellisError,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(new Error(`no answer within ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([
      call().catch((err: unknown) => {
        if (err instanceof TrellisError) throw err;
        throw isRecoverableError(err as Error) ? unavailable(err) : err;
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes an etcd client so that nothing of it keeps running. etcd3 1.1.2 keeps a watcher whose
 * cancel etcd never answered (etcd stopped or restarted meanwhile) and, even after close(),
 * re-establishes its watch stream every backoff for ever: a timer that keeps the process alive.
 * Once the client is closed its watch manager must not reconnect, so its reconnect step is made
 * a no-op (an already scheduled retry then runs once and stops).
 */
export function closeEtcdClient(client: Etcd3): void {
  const manager = (client as unknown as { watchManager?: { establishStream?: () => void } }).watchManager;
  if (manager !== undefined && typeof manager.establishStream === 'function')
    manager.establishStream = () => undefined;
  client.close();
}
