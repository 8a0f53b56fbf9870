import type { Random } from '../../core/random.js';

/**
 * The host and balancer shapes shared by load-balancer.ts and the lb-*.ts balancers (kept
 * apart so the balancers do not import their own factory). Import them from load-balancer.ts.
 */
export interface LbHost {
  /** Identity and hashing key: "ip:port" as Envoy's address->asString() prints it. */
  readonly address: string;
  /** load_balancing_weight of the endpoint; 1 when unset. */
  readonly weight: number;
  /** Requests in flight to this host, read at pick time by least request. */
  readonly activeRequests?: number;
}

export interface PickContext<H> {
  hash?: bigint | number;
  exclude?: ReadonlySet<H>;
}

export interface LoadBalancer<H extends LbHost = LbHost> {
  readonly hosts: readonly H[];
  pick(ctx?: PickContext<H>): H | undefined;
}

export function randomHash(random: Random): bigint {
  const hi = BigInt(Math.floor(random() * 0x1_0000_0000));
  const lo = BigInt(Math.floor(random() * 0x1_0000_0000));
  return (hi << 32n) | lo;
}

/** Hash from the context as an unsigned 64-bit bigint, or a random one. */
export function hashOf(ctx: PickContext<unknown> | undefined, random: Random): bigint {
  const h = ctx?.hash;
  if (h === undefined) return randomHash(random);
  return BigInt.asUintN(64, typeof h === 'bigint' ? h : BigInt(Math.trunc(h)));
}

/** Index of a host not in `exclude`, trying `next()` at most `limit` times. */
export function firstAllowed<H>(exclude: ReadonlySet<H> | undefined, limit: number, next: () => H): H {
  const first = next();
  if (exclude === undefined || exclude.size === 0 || !exclude.has(first)) return first;
  for (let i = 1; i < limit; i++) {
    const h = next();
    if (!exclude.has(h)) return h;
  }
  return first;
}
