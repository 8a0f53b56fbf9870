/**
 * `trellis version` run as a process against a real control plane with real Trellis proxies
 * (which report their version in node metadata ISTIO_VERSION) and an Envoy-like client that
 * reports none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connectEnvoyLike } from '../helpers/envoy-like-client.js';
import { startMesh } from '../helpers/mesh.js';
import { runTrellis } from '../helpers/process.js';
import { startSidecar } from '../helpers/sidecar.js';
import { eventually } from '../../../src/core/testing/eventually.js';
import { dataPlaneSummary } from '../../../src/cli/commands/version.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
const escaped = version.replace(/\./g, '\\.');

test('version prints client, control plane and each proxy; -o json; --short; --client', async () => {
  const mesh = await startMesh();
  const a = await startSidecar(mesh.xdsPort, { app: 'productpage', ip: '10.9.0.1', version });
  const b = await startSidecar(mesh.xdsPort, { app: 'reviews', ip: '10.9.0.2', version });
  const c = await startSidecar(mesh.xdsPort, { app: 'ratings', ip: '10.9.0.3', version: '0.0.1-old' });
  const envoy = connectEnvoyLike(mesh.xdsPort, {
    id: 'sidecar~10.9.0.4~details-v1.default~default.svc.cluster.local',
  });
  try {
    const cp = ['--control-plane', mesh.httpUrl];
    await eventually(async () => {
      const rows = (await (await fetch(`${mesh.httpUrl}/debug/syncz`)).json()) as unknown[];
      return rows.length === 4;
    }, 'four proxies connected');

    const text = await runTrellis(['version', ...cp]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      `client version: ${version}`,
      `control plane version: ${version}`,
      `data plane version: ${version} (2 proxies), 0.0.1-old (1 proxy), unknown (1 proxy)`,
      '',
    ]);
    assert.match(lines[4] ?? '', /^PROXY\s+VERSION\s+ID$/);
    assert.match(text.stdout, new RegExp(`\\ndetails-v1\\.default\\s+unknown\\s+sidecar~10\\.9\\.0\\.4~`));
    assert.match(
      text.stdout,
      new RegExp(`\\nproductpage-1\\.default\\s+${escaped}\\s+sidecar~10\\.9\\.0\\.1~`),
    );
    assert.match(text.stdout, /\nratings-1\.default\s+0\.0\.1-old\s+sidecar~10\.9\.0\.3~/);

    const short = await runTrellis(['version', '--short', ...cp]);
    assert.equal(short.code, 0, short.stderr);
    assert.equal(short.stdout, lines.slice(0, 3).join('\n') + '\n');

    const json = await runTrellis(['version', '-o', 'json', ...cp]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as {
      clientVersion: string;
      controlPlaneVersion: string;
      dataPlaneVersions: { id: string; name: string; version: string }[];
    };
    assert.equal(parsed.clientVersion, version);
    assert.equal(parsed.controlPlaneVersion, version);
    assert.deepEqual(
      parsed.dataPlaneVersions.map((p) => [p.name, p.version]),
      [
        ['details-v1.default', 'unknown'],
        ['productpage-1.default', version],
        ['ratings-1.default', '0.0.1-old'],
        ['reviews-1.default', version],
      ],
    );

    // Each proxy also reports where its admin endpoint listens (the CLI's way to reach it by name).
    const status = await runTrellis(['proxy-status', 'ratings-1', '-o', 'json', ...cp]);
    assert.equal(status.code, 0, status.stderr);
    const [row] = JSON.parse(status.stdout) as { adminAddress: string; proxyVersion: string }[];
    assert.equal(row?.adminAddress, `127.0.0.1:${c.adminPort}`);
    assert.equal(row?.proxyVersion, '0.0.1-old');
  } finally {
    envoy.close();
    await Promise.all([a.stop(0), b.stop(0), c.stop(0)]);
    await mesh.stop();
  }
});

test('version: --client needs no control plane; an unreachable one still prints the client, exit 1', async () => {
  const client = await runTrellis(['version', '--client', '--control-plane', 'http://127.0.0.1:1']);
  assert.equal(client.code, 0, client.stderr);
  assert.equal(client.stdout, `client version: ${version}\n`);

  const down = await runTrellis(['version', '--control-plane', 'http://127.0.0.1:1']);
  assert.equal(down.code, 1);
  assert.equal(down.stdout, `client version: ${version}\n`);
  assert.match(
    down.stderr,
    /^trellis version: cannot reach the control plane at http:\/\/127\.0\.0\.1:1 .*--control-plane URL/,
  );

  const bad = await runTrellis(['version', '-o', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /-o xml: expected text or json/);
});

test('dataPlaneSummary: most common version first, singular and plural, nothing connected', () => {
  const p = (v: string) => ({ id: v, name: v, version: v });
  assert.equal(dataPlaneSummary([]), 'none (no proxies connected)');
  assert.equal(dataPlaneSummary([p('1.0')]), '1.0 (1 proxy)');
  assert.equal(dataPlaneSummary([p('1.0'), p('2.0'), p('2.0')]), '2.0 (2 proxies), 1.0 (1 proxy)');
  assert.equal(dataPlaneSummary([p('b'), p('a')]), 'a (1 proxy), b (1 proxy)');
});
