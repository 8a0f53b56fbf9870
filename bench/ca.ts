/**
 * Certificate authority benchmark: how fast the CA issues workload certificates from CSRs.
 * Issue #12's goal: 5,000 certificates in under 10 s.
 *
 * The CSRs (ECDSA P-256 key + PKCS#10, as each workload makes its own) are generated first and
 * timed separately, since in a mesh that work is spread over the workloads. Then the same CSRs
 * are signed by one self-provisioned CA, once one at a time (the latency of a lone request)
 * and once with up to 64 requests in flight (a burst of proxies starting). Each signing
 * verifies the CSR's signature and signs the leaf with the intermediate's key.
 *
 *   npm run bench:ca                 (N = 5000)
 *   npm run bench:ca -- --count 1000
 */
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../src/ca/authority.js';
import { generateKeyAndCsr } from '../src/ca/workload.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

const N = arg('count', 5000);
const CONCURRENCY = 64;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const ca = await CertificateAuthority.create();
const csrs: string[] = new Array<string>(N);
const identity = (i: number) => ({ namespace: `ns-${i % 50}`, serviceAccount: `sa-${i}` });

const rows: Array<[string, number]> = [];
rows.push([
  'workload: generate key + CSR (sequential)',
  await timed(async () => {
    for (let i = 0; i < N; i++) csrs[i] = (await generateKeyAndCsr()).csrPem;
  }),
]);
let lastLeaf = '';
rows.push([
  'CA: signCsr (sequential)',
  await timed(async () => {
    for (let i = 0; i < N; i++)
      lastLeaf = (await ca.signCsr(csrs[i] as string, { identity: identity(i) })).certChainPem[0] as string;
  }),
]);
rows.push([
  `CA: signCsr (${CONCURRENCY} in flight)`,
  await timed(() =>
    pool(csrs, CONCURRENCY, async (csr, i) => void (await ca.signCsr(csr, { identity: identity(i) }))),
  ),
]);

// One certificate checked, so the benchmark cannot be fast by issuing something wrong.
const leaf = new X509Certificate(lastLeaf);
if (
  !leaf.verify(new X509Certificate(ca.issuerPem).publicKey) ||
  !leaf.subjectAltName?.includes(`/sa/sa-${N - 1}`)
)
  throw new Error('bench: the last certificate does not verify or names the wrong identity');

console.log(`CA benchmark: ${N} workload certificates, ECDSA P-256, node ${process.version}\n`);
console.log('| step | certs/s | total s |');
console.log('|---|---|---|');
for (const [name, s] of rows) console.log(`| ${name} | ${Math.round(N / s)} | ${s.toFixed(2)} |`);
const best = Math.min(...rows.slice(1).map(([, s]) => s));
console.log(
  `\nGoal (issue #12): ${N} in under 10 s -> ${best < 10 * (N / 5000) ? 'met' : 'NOT met'} (${best.toFixed(2)} s)`,
);
