/**
 * `trellis up --capture netns` end to end (root only): a client app that calls
 * `http://reviews:9080/` with no proxy settings, from its own network namespace, is routed by
 * the mesh (a VirtualService sends it to reviews v2) and counted by its sidecar; its plain TCP
 * to `echo:7000` is routed by the original destination; a call by a workload's address goes
 * through its sidecar; Ctrl-C removes the namespaces and rules. Cleans up after itself even
 * when it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../../src/core/testing/eventually.js';
import { startTrellis } from '../integration/helpers/process.js';
import { NetnsCapture } from '../../src/cli/up/netns.js';

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  // Root in a container may still lack CAP_NET_ADMIN or the nat table: probe both.
  try {
    execFileSync('ip', ['netns', 'add', 'trellis-probe'], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', 'trellis-probe'], { stdio: 'ignore' });
    execFileSync('iptables', ['-w', '-t', 'nat', '-S'], { stdio: 'ignore' });
  } catch {
    return 'cannot create network namespaces or use the iptables nat table here';
  }
  return undefined;
}

const MESH = `apiVersion: trellis.io/v1alpha1
kind: Mesh
metadata: { name: netns-e2e }
spec:
  config: config
  workloads:
    - name: client
      service: client
      labels: { app: client }
      ports: [{ port: 9080, protocol: http }]
      command: [node, client.mjs]
    - name: reviews-v1
      service: reviews
      labels: { app: reviews, version: v1 }
      ports: [{ port: 9080, protocol: http }]
      command: [node, reviews.mjs]
      env: { VERSION: v1 }
    - name: reviews-v2
      service: reviews
      labels: { app: reviews, version: v2 }
      ports: [{ port: 9080, protocol: http }]
      command: [node, reviews.mjs]
      env: { VERSION: v2 }
    - name: echo
      service: echo
      labels: { app: echo }
      ports: [{ port: 7000, protocol: tcp }]
      command: [node, echo.mjs]
`;

// A plain TCP service: answers each chunk with \`echo:\` and the chunk.
const ECHO = `import net from 'node:net';
net.createServer((s) => s.on('data', (d) => s.write('echo:' + d))).listen(Number(process.env.PORT), '0.0.0.0');
`;

const CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v2 } }] }]
`;

// Listens on 0.0.0.0 (its namespace's address) and answers with its version.
const REVIEWS = `import http from 'node:http';
http.createServer((req, res) => res.end('served by reviews-' + process.env.VERSION))
  .listen(Number(process.env.PORT), '0.0.0.0');
`;

// Calls reviews by name with no proxy settings, and prints what answered.
const CLIENT = `import http from 'node:http';
import net from 'node:net';
http.createServer((req, res) => res.end('client')).listen(Number(process.env.PORT), '0.0.0.0');
const proxy = process.env.HTTP_PROXY ?? process.env.http_proxy ?? 'none';
setInterval(() => {
  http.get('http://reviews:9080/', (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => console.log('CALL status=' + res.statusCode + ' body=' + body + ' proxy=' + proxy));
  }).on('error', (err) => console.log('CALL error=' + err.message));
  const s = net.connect(7000, 'echo', () => s.write('ping'));
  s.on('data', (d) => { console.log('TCP reply=' + d); s.end(); });
  s.on('error', (err) => console.log('TCP error=' + err.message));
}, 200);
`;

async function trellisNamespaces(): Promise<string[]> {
  const names = await readdir('/run/netns').catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('trellis-'));
}

const reason = missing();
test(
  `trellis up --capture netns routes an app with no proxy settings through the mesh${reason ? ` (skipped: ${reason})` : ''}`,
  { skip: reason !== undefined, timeout: 60_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-netns-'));
    await mkdir(path.join(dir, 'config'));
    await writeFile(path.join(dir, 'mesh.yaml'), MESH);
    await writeFile(path.join(dir, 'config', 'reviews.yaml'), CONFIG);
    await writeFile(path.join(dir, 'reviews.mjs'), REVIEWS);
    await writeFile(path.join(dir, 'client.mjs'), CLIENT);
    await writeFile(path.join(dir, 'echo.mjs'), ECHO);
    // No proxy settings anywhere: the app is captured by iptables, not pointed at its sidecar.
    const env = { ...process.env };
    for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) delete env[k];
    const up = startTrellis(
      ['up', dir, '--capture', 'netns', '--base-port', '0', '--xds-port', '0', '--http-port', '0'],
      { env },
    );
    const context = () => `; trellis up output (tail):\n${(up.stdout() + up.stderr()).slice(-3000)}`;
    t.after(async () => {
      await up.stop(); // SIGTERM (up removes what it made), SIGKILL after 10 s
      // Whatever happened, leave no namespace, bridge or rule behind.
      await new NetnsCapture({ mesh: 'netns-e2e' }).removeLeftovers();
      await rm(dir, { recursive: true, force: true });
    });

    await up
      .waitForOutput(/Press Ctrl-C/, 45_000)
      .catch((err: Error) => assert.fail(err.message + context()));
    const admin = (workload: string) =>
      // The summary's proxy rows: name, xDS id, admin URL, identity.
      new RegExp(`\\n +${workload} +sidecar~\\S+ +(http://127\\.0\\.0\\.1:\\d+)`).exec(up.stdout())?.[1] ??
      '';
    assert.equal((await trellisNamespaces()).length, 4, 'one namespace per workload');

    // The client's first calls may race the last config push; then every call goes to v2.
    const calls = () => [...up.stdout().matchAll(/CALL (.*)/g)].map((m) => m[1] ?? '');
    await up.waitForOutput(/CALL status=200 body=served by reviews-v2/, 20_000).catch((err: Error) => {
      assert.fail(err.message + context());
    });
    const seen = calls().length;
    await eventually(() => calls().length >= seen + 5, {
      what: 'five more calls',
      timeoutMs: 20_000,
      intervalMs: 100,
      context,
    });
    const later = calls().slice(seen);
    for (const c of later) assert.equal(c, 'status=200 body=served by reviews-v2 proxy=none');

    // Both sidecars saw the calls: the client's (outbound capture, reporter source) and
    // reviews-v2's (inbound, reporter destination; Istio names the request's service there too).
    const requests = async (workload: string, reporter: string, destination: string): Promise<number> => {
      const stats = await (await fetch(`${admin(workload)}/stats/prometheus`)).text();
      return stats
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('istio_requests_total{') &&
            l.includes(`reporter="${reporter}"`) &&
            l.includes(`destination_service="${destination}`),
        )
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const reviews = 'reviews.default.svc.cluster.local"';
    assert.ok((await requests('client', 'source', reviews)) >= 5, "the client's sidecar counts its calls");
    assert.ok(
      (await requests('reviews-v2', 'destination', 'reviews')) >= 5,
      "reviews-v2's sidecar counts them",
    );
    assert.equal(await requests('reviews-v1', 'destination', 'reviews'), 0, 'reviews-v1 gets nothing');

    // Plain TCP by name: the client's sidecar reads the address dialled (SO_ORIGINAL_DST), which
    // selects echo's VIP listener; both sidecars count the connection.
    await up.waitForOutput(/TCP reply=echo:ping/, 20_000).catch((err: Error) => {
      assert.fail(err.message + context());
    });
    const tcpOpened = async (workload: string, reporter: string, destination: string): Promise<number> => {
      const stats = await (await fetch(`${admin(workload)}/stats/prometheus`)).text();
      return stats
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('istio_tcp_connections_opened_total{') &&
            l.includes(`reporter="${reporter}"`) &&
            // Passthrough is counted as Istio counts it: by destination_service_name.
            (l.includes(`destination_service="${destination}`) ||
              l.includes(`destination_service_name="${destination}`)),
        )
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    assert.ok((await tcpOpened('client', 'source', 'echo.default.svc.cluster.local"')) >= 1);
    assert.ok((await tcpOpened('echo', 'destination', '')) >= 1, "echo's sidecar counts the connection");

    // A call by workload address never reaches the app around its sidecar: from another
    // namespace it passes through the caller's sidecar, then reviews-v1's inbound capture.
    const addressOf = (w: string) => new RegExp(`${w} (10\\.250\\.0\\.\\d+)`).exec(up.stdout())?.[1];
    const appPortOf = (w: string) =>
      new RegExp(`${w} +\\.\\.\\. ready \\(pid \\d+; app :(\\d+)`).exec(up.stdout())?.[1];
    const target = `http://${addressOf('reviews-v1')}:${appPortOf('reviews-v1')}/`;
    const fromClientNs = execFileSync(
      'ip',
      ['netns', 'exec', 'trellis-netns-e2e-0', process.execPath, '-e',
        `fetch(${JSON.stringify(target)}).then((r) => r.text()).then((t) => console.log(t))`],
      { encoding: 'utf8', timeout: 10_000 },
    ); // prettier-ignore
    assert.equal(fromClientNs.trim(), 'served by reviews-v1');
    assert.ok((await tcpOpened('client', 'source', 'PassthroughCluster')) >= 1, 'passed through');
    assert.equal(await requests('reviews-v1', 'destination', ''), 1, "reviews-v1's sidecar served it");
    // From the host too.
    assert.equal(await (await fetch(target)).text(), 'served by reviews-v1');
    assert.equal(await requests('reviews-v1', 'destination', ''), 2);

    assert.equal(await up.stop('SIGTERM'), 0, `up exits 0 on SIGTERM${context()}`);
    assert.deepEqual(await trellisNamespaces(), [], 'namespaces removed on exit');
    assert.equal(existsSync('/etc/netns/trellis-netns-e2e-0'), false, 'hosts files removed on exit');
    const nat = execFileSync('iptables', ['-w', '-t', 'nat', '-S'], { encoding: 'utf8' });
    assert.doesNotMatch(nat, /TRELLIS/, 'rules removed on exit');
  },
);
